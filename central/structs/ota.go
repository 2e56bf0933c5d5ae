package structs

// Agent releases and rollouts (docs/upgrades.md): the metadata lives in
// Raft, a release's bytes in each server's data dir (central/ota).

// AgentRelease is one agent binary of a release: a version for one target.
// Its ID is Version + "/" + Target.
type AgentRelease struct {
	Version string `json:"version"`
	Target  string `json:"target"` // linux/amd64, linux/arm64, linux/armv7, linux/armv6
	SHA256  string `json:"sha256"` // hex
	Size    int64  `json:"size"`
	// URL, when set, is where agents fetch the binary (an operator's
	// server); empty: from central's download endpoint on each server
	// that holds the bytes.
	URL string `json:"url,omitempty"`
	// Holders names the servers that had the bytes when the release was
	// added: a server without them fetches them from one of these.
	Holders     []string `json:"holders,omitempty"`
	GoVersion   string   `json:"go_version,omitempty"`
	CreateTime  int64    `json:"create_time"` // unix ns
	CreateIndex uint64   `json:"create_index"`
	ModifyIndex uint64   `json:"modify_index"`
}

// ID is the release binary's key: version/target.
func (r *AgentRelease) ID() string { return r.Version + "/" + r.Target }

// Rollout statuses.
const (
	RolloutRunning  = "running"
	RolloutPaused   = "paused"
	RolloutComplete = "complete"
	RolloutFailed   = "failed"
	RolloutAborted  = "aborted"
)

// Statuses of one node in a rollout.
const (
	RolloutNodePending   = "pending"   // not ordered yet
	RolloutNodeUpgrading = "upgrading" // given the order, waiting for it to come back healthy
	RolloutNodeHealthy   = "healthy"   // runs the version, its allocations re-attached
	RolloutNodeFailed    = "failed"    // rolled back, or missed the health window
	RolloutNodeCancelled = "cancelled" // order withdrawn: the rollout failed or was aborted
	RolloutNodeSkipped   = "skipped"   // offline to the end, or cannot upgrade itself
)

// AgentRollout is an upgrade of a set of nodes to one agent version,
// driven by the leader (central/server/rollout.go, central/ota.Step).
type AgentRollout struct {
	ID                string   `json:"id"`
	Version           string   `json:"version"`
	Datacenters       []string `json:"datacenters,omitempty"`
	Constraints       []string `json:"constraints,omitempty"` // as given: "attr.cpu.arch = arm64"
	Canary            int      `json:"canary"`
	MaxParallel       int      `json:"max_parallel"`      // nodes upgrading at once (resolved from a percentage at start)
	MaxParallelSpec   string   `json:"max_parallel_spec"` // as given: "2" or "10%"
	HealthWindow      int64    `json:"health_window"`     // ns
	AllowDowngrade    bool     `json:"allow_downgrade,omitempty"`
	Status            string   `json:"status"`
	StatusDescription string   `json:"status_description,omitempty"`
	// Order lists the selected nodes, canaries first; Nodes holds each
	// one's progress.
	Order       []string                `json:"order"`
	Nodes       map[string]*RolloutNode `json:"nodes"`
	Events      []RolloutEvent          `json:"events,omitempty"` // newest last, the last MaxRolloutEvents
	CreateTime  int64                   `json:"create_time"`      // unix ns
	ModifyTime  int64                   `json:"modify_time"`      // unix ns
	CreateIndex uint64                  `json:"create_index"`
	ModifyIndex uint64                  `json:"modify_index"`
}

// MaxRolloutEvents bounds AgentRollout.Events.
const MaxRolloutEvents = 64

// Active reports whether the rollout may still order nodes.
func (r *AgentRollout) Active() bool {
	return r.Status == RolloutRunning || r.Status == RolloutPaused
}

// RolloutNode is one node's progress in a rollout.
type RolloutNode struct {
	Name        string `json:"name,omitempty"`
	Target      string `json:"target"`
	FromVersion string `json:"from_version,omitempty"`
	Canary      bool   `json:"canary,omitempty"`
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
	OrderedAt   int64  `json:"ordered_at,omitempty"` // unix ns
	DoneAt      int64  `json:"done_at,omitempty"`    // unix ns
}

// UpgradeFailure is an agent's report that an upgrade did not take.
type UpgradeFailure struct {
	Version    string `json:"version"`
	Reason     string `json:"reason"`
	Time       int64  `json:"time"` // unix ms on the agent's clock
	RolloutID  string `json:"rollout_id,omitempty"`
	RolledBack bool   `json:"rolled_back,omitempty"`
}

// RolloutEvent is one thing that happened in a rollout, for the CLI and UI.
type RolloutEvent struct {
	Time    int64  `json:"time"` // unix ns
	Node    string `json:"node,omitempty"`
	Message string `json:"message"`
}

// RolloutCounts sums the nodes of a rollout by status.
func (r *AgentRollout) RolloutCounts() map[string]int {
	c := map[string]int{}
	for _, n := range r.Nodes {
		c[n.Status]++
	}
	return c
}
