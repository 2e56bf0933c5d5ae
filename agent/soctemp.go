package agent

import "github.com/tether-edge/tether/agent/fingerprint"

// socTemp is the board's SoC temperature for a heartbeat, in tenths of a
// degree Celsius; 0 (left out of the heartbeat) where the board exposes
// none. It reads one sysfs file: cheap enough for every heartbeat.
func (a *Agent) socTemp() int {
	t, _ := fingerprint.Fingerprinter{Root: a.opts.FingerprintRoot}.Temperature()
	return t
}
