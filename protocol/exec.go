package protocol

import (
	"crypto/ed25519"
	"strings"
)

// Exec sessions (`central alloc exec`) travel through the site broker
// only while an operator is attached:
//
//	central → <p>/node/<id>/exec             ExecRequest, signed, QoS 1
//	central → <p>/node/<id>/exec/<sid>/in    ExecIn frames, signed, QoS 1
//	agent   → <p>/node/<id>/exec/<sid>/out   ExecOut frames, QoS 1
//
// The request and every input frame are signed by central (Ed25519 with
// the keys that sign Desired), so a site broker, or anyone who can publish
// on it, can neither start a command on a device nor type into a session
// central opened: the agent runs a request only when it verifies with the
// pinned key, names this node, has not expired and was not seen before,
// and takes an input frame only when it verifies, names an open session
// and carries a sequence number above the last one taken.
//
// Flow control is by credits in both directions: the agent sends output
// only while it has less than ExecWindow bytes unacknowledged (ExecIn.Ack
// counts the output bytes central has passed on), and central sends stdin
// only while less than ExecWindow bytes are unacknowledged (ExecOut.Ack).
// Either side ends the session when the other is silent for ExecDeadAfter
// seconds; each sends a frame at least every ExecKeepalive seconds.

// KindExec is the node topic family of exec sessions.
const KindExec Kind = "exec"

// Limits of the exec protocol.
const (
	MaxExecChunk       = 16 << 10  // bytes of stdin, stdout or stderr in one frame
	ExecWindow         = 256 << 10 // unacknowledged bytes in flight, each way
	MaxExecArgs        = 64        // words of a command
	MaxExecCommandSize = 8 << 10   // bytes of a command, all words
	MaxExecTTL         = 60        // seconds: the furthest expiry an agent accepts
	ExecRequestTTL     = 30        // seconds: the expiry central sets
	ExecKeepalive      = 10        // seconds between frames of a quiet session
	ExecDeadAfter      = 35        // seconds of silence that end a session
)

// ExecRequest asks an agent to run Command in a task's context. Central
// signs it; Expires (unix ms) is a few tens of seconds ahead and Session
// is never used twice, so a copy replayed later is refused.
type ExecRequest struct {
	V       int      `cbor:"0,keyasint"`
	Session string   `cbor:"1,keyasint"` // session id: a level of the session's topics
	NodeID  string   `cbor:"2,keyasint"`
	AllocID string   `cbor:"3,keyasint"`
	Task    string   `cbor:"4,keyasint"`
	Command []string `cbor:"5,keyasint"`
	TTY     bool     `cbor:"6,keyasint,omitempty"`
	Width   uint16   `cbor:"7,keyasint,omitempty"` // terminal columns (TTY)
	Height  uint16   `cbor:"8,keyasint,omitempty"` // terminal rows (TTY)
	Expires int64    `cbor:"9,keyasint"`           // unix ms
	Sig     []byte   `cbor:"10,keyasint,omitempty"`
}

// ExecIn is one frame from central to a session: stdin, its end, a
// terminal resize, an acknowledgement of output, or the end of the
// session. Seq counts from 1 and grows by one per frame; Sig is central's
// signature, as on the request.
type ExecIn struct {
	V       int    `cbor:"0,keyasint"`
	Session string `cbor:"1,keyasint"`
	Seq     uint64 `cbor:"2,keyasint"`
	Stdin   []byte `cbor:"3,keyasint,omitempty"`
	EOF     bool   `cbor:"4,keyasint,omitempty"` // stdin is closed
	Width   uint16 `cbor:"5,keyasint,omitempty"` // resize, when both are set
	Height  uint16 `cbor:"6,keyasint,omitempty"`
	Ack     uint64 `cbor:"7,keyasint,omitempty"` // output bytes passed on, in all
	Close   bool   `cbor:"8,keyasint,omitempty"` // the operator left: kill the command
	Sig     []byte `cbor:"9,keyasint,omitempty"`
}

// ExecOut is one frame from the agent: output, an acknowledgement of
// stdin, or the end of the session (Exited with ExitCode, or Err when the
// command could not run or the session broke). Seq counts from 1.
type ExecOut struct {
	V        int    `cbor:"0,keyasint"`
	Session  string `cbor:"1,keyasint"`
	Seq      uint64 `cbor:"2,keyasint"`
	Stdout   []byte `cbor:"3,keyasint,omitempty"`
	Stderr   []byte `cbor:"4,keyasint,omitempty"`
	Ack      uint64 `cbor:"5,keyasint,omitempty"` // stdin bytes taken, in all
	Exited   bool   `cbor:"6,keyasint,omitempty"`
	ExitCode int    `cbor:"7,keyasint,omitempty"`
	Err      string `cbor:"8,keyasint,omitempty"`
}

func (m *ExecRequest) version() int { return m.V }
func (m *ExecIn) version() int      { return m.V }
func (m *ExecOut) version() int     { return m.V }

// AttrExec is the hello attribute of an agent that runs exec sessions;
// central refuses `alloc exec` to a node without it.
const AttrExec = "tether.exec"

// CheckExecRequest checks the shape of a decoded request (not its
// signature or expiry): ids usable in topics, a bounded command.
func CheckExecRequest(r *ExecRequest) error {
	switch {
	case !ValidID(r.Session) || !ValidID(r.NodeID) || !ValidID(r.AllocID) || r.Task == "":
		return ErrMalformed
	case len(r.Command) == 0 || len(r.Command) > MaxExecArgs || r.Command[0] == "":
		return ErrMalformed
	}
	n := 0
	for _, w := range r.Command {
		n += len(w)
	}
	if n > MaxExecCommandSize {
		return ErrMalformed
	}
	return nil
}

// SignExecRequest sets r.Sig to the signatures of r by keys.
func SignExecRequest(r *ExecRequest, keys ...ed25519.PrivateKey) error {
	r.Sig = nil
	sig, err := signBody(r, keys)
	r.Sig = sig
	return err
}

// VerifyExecRequest checks r.Sig against the pinned public key.
func VerifyExecRequest(r *ExecRequest, pub ed25519.PublicKey) error {
	c := *r
	c.Sig = nil
	return verifyBody(&c, r.Sig, pub)
}

// SignExecIn sets f.Sig to the signatures of f by keys.
func SignExecIn(f *ExecIn, keys ...ed25519.PrivateKey) error {
	f.Sig = nil
	sig, err := signBody(f, keys)
	f.Sig = sig
	return err
}

// VerifyExecIn checks f.Sig against the pinned public key.
func VerifyExecIn(f *ExecIn, pub ed25519.PublicKey) error {
	c := *f
	c.Sig = nil
	return verifyBody(&c, f.Sig, pub)
}

// Exec is the topic a node receives exec requests on.
func (t Topics) Exec(nodeID string) string { return t.node(nodeID, KindExec) }

// ExecIn is the topic of a session's frames to the agent.
func (t Topics) ExecIn(nodeID, session string) string {
	return t.node(nodeID, KindExec) + "/" + session + "/in"
}

// ExecOut is the topic of a session's frames from the agent.
func (t Topics) ExecOut(nodeID, session string) string {
	return t.node(nodeID, KindExec) + "/" + session + "/out"
}

// ParseExec recognises an exec topic: the request topic (session "",
// dir ""), or a session's "in" or "out" topic.
func (t Topics) ParseExec(topic string) (nodeID, session, dir string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.prefix()+"/node/")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 2 && len(parts) != 4 || parts[1] != string(KindExec) || !ValidID(parts[0]) {
		return "", "", "", false
	}
	if len(parts) == 2 {
		return parts[0], "", "", true
	}
	if !ValidID(parts[2]) || parts[3] != "in" && parts[3] != "out" {
		return "", "", "", false
	}
	return parts[0], parts[2], parts[3], true
}
