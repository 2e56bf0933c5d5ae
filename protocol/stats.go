package protocol

// An allocation's resource usage is measured on request. Central publishes
// a StatsRequest on <p>/node/<id>/stats (QoS 1, not retained); the agent
// answers with one StatsReply on <p>/node/<id>/stats/<request id> (QoS 1),
// a topic central subscribes to for the life of the request. An agent
// that does not know the family (older than it) never answers: central
// gives up after a timeout and says so.

// KindStats is the node topic family of stats requests (central → agent).
const KindStats Kind = "stats"

// Limits of the stats protocol.
const (
	MaxStatsTasks = 64 // tasks in one reply; an allocation has fewer
	// StatsWindowMs is how long the agent measures CPU over (two readings
	// of each task's CPU time this far apart).
	StatsWindowMs = 500
)

// StatsRequest asks an agent for the usage of an allocation's tasks.
type StatsRequest struct {
	V       int    `cbor:"0,keyasint"`
	ID      string `cbor:"1,keyasint"` // request id: the last level of the reply topic
	AllocID string `cbor:"2,keyasint"`
	Task    string `cbor:"3,keyasint,omitempty"` // "": every task
}

// StatsReply is an agent's answer: each task's usage, or Err when the
// allocation is not one it runs.
type StatsReply struct {
	V     int         `cbor:"0,keyasint"`
	ID    string      `cbor:"1,keyasint"`
	Time  int64       `cbor:"2,keyasint"` // unix ms on the agent
	Tasks []TaskUsage `cbor:"3,keyasint,omitempty"`
	Err   string      `cbor:"4,keyasint,omitempty"`
}

// TaskUsage is one task's usage. CPU is in permille of one core (1500 = a
// core and a half busy) over StatsWindowMs, CPUTimeMs the task's CPU time
// since it started; NoCPU says the driver cannot measure CPU (wasm).
// Unavailable says why a task has no figures (not running, the driver
// measures nothing).
type TaskUsage struct {
	Name        string `cbor:"0,keyasint"`
	CPU         int    `cbor:"1,keyasint,omitempty"`
	CPUTimeMs   uint64 `cbor:"2,keyasint,omitempty"`
	MemBytes    uint64 `cbor:"3,keyasint,omitempty"`
	NoCPU       bool   `cbor:"4,keyasint,omitempty"`
	Unavailable string `cbor:"5,keyasint,omitempty"`
}

func (m *StatsRequest) version() int { return m.V }
func (m *StatsReply) version() int   { return m.V }

// Stats is the topic a node receives stats requests on.
func (t Topics) Stats(nodeID string) string { return t.node(nodeID, KindStats) }

// StatsReply is the topic a node answers one stats request on.
func (t Topics) StatsReply(nodeID, reqID string) string {
	return t.node(nodeID, KindStats) + "/" + reqID
}

// ParseStats recognises a stats request topic (reqID "") or a reply topic
// and returns its node id and request id.
func (t Topics) ParseStats(topic string) (nodeID, reqID string, ok bool) {
	return t.parseRequestTopic(topic, KindStats)
}
