package protocol

import "strings"

// Task logs travel only while someone reads them. Central publishes a
// LogsRequest on <p>/node/<id>/logs (QoS 1, not retained); the agent
// answers with LogsChunks on <p>/node/<id>/logs/<request id> (QoS 1), a
// topic central subscribes to for the life of the request. A follow
// request is renewed by publishing it again with the same ID; the agent
// stops following when the reader cancels or stops renewing.

// KindLogs is the node topic family of log requests (central → agent).
const KindLogs Kind = "logs"

// Limits of the logs protocol.
const (
	MaxLogChunk   = 16 << 10 // bytes of log data per chunk
	MaxLogLines   = 100_000  // largest tail a request may ask for
	LogRenewEvery = 10       // seconds between renewals of a follow request
	LogFollowTTL  = 30       // seconds a follow lasts without a renewal
)

// LogsRequest asks an agent for a task's stdout or stderr.
type LogsRequest struct {
	V       int    `cbor:"0,keyasint"`
	ID      string `cbor:"1,keyasint"` // request id: the last level of the reply topic
	AllocID string `cbor:"2,keyasint"`
	Task    string `cbor:"3,keyasint"`
	Stderr  bool   `cbor:"4,keyasint,omitempty"`
	Follow  bool   `cbor:"5,keyasint,omitempty"`
	// Lines > 0 starts that many lines before the end; 0 from the start.
	Lines  int  `cbor:"6,keyasint,omitempty"`
	Cancel bool `cbor:"7,keyasint,omitempty"` // stop a follow
}

// LogsChunk is one piece of a task's log, in order by Seq (from 0). The
// last chunk of a request has EOF set; Err says why it ended early.
type LogsChunk struct {
	V    int    `cbor:"0,keyasint"`
	ID   string `cbor:"1,keyasint"`
	Seq  uint64 `cbor:"2,keyasint"`
	Data []byte `cbor:"3,keyasint,omitempty"`
	EOF  bool   `cbor:"4,keyasint,omitempty"`
	Err  string `cbor:"5,keyasint,omitempty"`
}

func (m *LogsRequest) version() int { return m.V }
func (m *LogsChunk) version() int   { return m.V }

// Logs is the topic a node receives log requests on.
func (t Topics) Logs(nodeID string) string { return t.node(nodeID, KindLogs) }

// LogsReply is the topic a node answers one log request on.
func (t Topics) LogsReply(nodeID, reqID string) string {
	return t.node(nodeID, KindLogs) + "/" + reqID
}

// ParseLogs recognises a log request topic (reqID "") or a reply topic and
// returns its node id and request id.
func (t Topics) ParseLogs(topic string) (nodeID, reqID string, ok bool) {
	return t.parseRequestTopic(topic, KindLogs)
}

// parseRequestTopic recognises <p>/node/<id>/<k> (reqID "") and
// <p>/node/<id>/<k>/<request id>, the topics of the request/reply families.
func (t Topics) parseRequestTopic(topic string, k Kind) (nodeID, reqID string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.prefix()+"/node/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[1] != string(k) || !ValidID(parts[0]) {
		return "", "", false
	}
	if len(parts) == 3 {
		if !ValidID(parts[2]) {
			return "", "", false
		}
		return parts[0], parts[2], true
	}
	return parts[0], "", true
}
