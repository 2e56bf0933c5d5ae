package agent

import "github.com/tether-edge/tether/protocol"

// verifyDesired reports whether d may be applied: always when the agent
// pinned no key (it was not enrolled), else only when central's pinned key
// signed it. A rejected message is counted and logged.
func (a *Agent) verifyDesired(d *protocol.Desired) bool {
	if a.pinned == nil {
		return true
	}
	if err := protocol.VerifyDesired(d, a.pinned); err != nil {
		n := a.badSig.Add(1)
		a.log.Warn("desired state dropped: not signed by central's pinned key", "index", d.Index, "err", err, "bad_signatures", n)
		return false
	}
	return true
}

// verifyService is verifyDesired for a service set's payload. An empty
// payload (a cleared retained service) passes: only central may write
// service topics on an authenticated broker.
func (a *Agent) verifyService(name string, payload []byte) bool {
	if a.pinned == nil || len(payload) == 0 {
		return true
	}
	var set protocol.ServiceSet
	if err := protocol.Decode(payload, &set); err != nil {
		return true // the cache counts it as malformed
	}
	if err := protocol.VerifyServiceSet(&set, a.pinned); err != nil {
		n := a.badSig.Add(1)
		a.log.Warn("service set dropped: not signed by central's pinned key", "service", name, "err", err, "bad_signatures", n)
		return false
	}
	return true
}
