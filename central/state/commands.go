package state

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Limits on a decoded command (a Raft log entry) and on snapshot records.
// They are generous — one plan may place tens of thousands of allocations —
// but bound what a corrupt or hostile entry can make us allocate.
const (
	MaxCommandSize   = 64 << 20 // bytes
	MaxNestedLevels  = 64
	MaxArrayElements = 1 << 18
	MaxMapPairs      = 1 << 18
)

// Command is one Raft log entry: a batch of ops applied in order, in one
// store transaction.
type Command struct {
	Ops []Op `json:"ops"`
}

// Op is one change to the state. Exactly one field is set.
type Op struct {
	UpsertJob       *UpsertJob            `json:"upsert_job,omitempty"`
	StopJob         *StopJob              `json:"stop_job,omitempty"`
	UpsertNode      *structs.Node         `json:"upsert_node,omitempty"`
	NodeStatus      *NodeStatus           `json:"node_status,omitempty"`
	NodeEligibility *NodeEligibility      `json:"node_eligibility,omitempty"`
	UpsertEvals     []*structs.Evaluation `json:"upsert_evals,omitempty"`
	ApplyPlan       *ApplyPlan            `json:"apply_plan,omitempty"`
	ClientUpdate    *ClientUpdate         `json:"client_update,omitempty"`
	AllocEvents     *AllocEvents          `json:"alloc_events,omitempty"`
	DeleteService   *DeleteService        `json:"delete_service,omitempty"`
	GC              *GC                   `json:"gc,omitempty"` // garbage collection (gc.go)

	// ACL ops (acl.go).
	UpsertACLPolicies []*acl.Policy `json:"upsert_acl_policies,omitempty"`
	DeleteACLPolicies []string      `json:"delete_acl_policies,omitempty"`
	UpsertACLTokens   []*acl.Token  `json:"upsert_acl_tokens,omitempty"`
	DeleteACLTokens   []string      `json:"delete_acl_tokens,omitempty"` // accessor IDs
	BootstrapACL      *BootstrapACL `json:"bootstrap_acl,omitempty"`

	// Agent identity and signing (security.go).
	Security *SecurityOp `json:"security,omitempty"`

	// A periodic job's launch (periodic.go).
	LaunchPeriodic *LaunchPeriodic `json:"launch_periodic,omitempty"`

	// Deployment status changes: promote, fail, pause, resume, success
	// (deployments.go).
	UpdateDeployment *UpdateDeployment `json:"update_deployment,omitempty"`

	// An operator's restart, signal or stop of one allocation (lifecycle.go).
	AllocAction *AllocActionOp `json:"alloc_action,omitempty"`
	StopAlloc   *StopAlloc     `json:"stop_alloc,omitempty"`

	// Agent releases and rollouts (ota.go).
	OTA *OTAOp `json:"ota,omitempty"`
}

// UpsertJob registers a job or a new version of it. Eval, if set, is
// inserted pending with the job's JobModifyIndex.
type UpsertJob struct {
	Job  *jobspec.Job        `json:"job"`
	Eval *structs.Evaluation `json:"eval,omitempty"`
	Now  int64               `json:"now"` // unix ns, set by the leader
	// KeepVersions is how many versions of the job are kept (the
	// leader's job_tracked_versions; 0: the default, 6).
	KeepVersions int `json:"keep_versions,omitempty"`
	// EnforceIndex, when non-zero, refuses the write with ErrConflict
	// unless the job's current JobModifyIndex is still this (a revert
	// checked against the version it read).
	EnforceIndex uint64 `json:"enforce_index,omitempty"`
	// EnforceAbsent refuses the write with ErrConflict if the job exists
	// (`job run -check-index 0`, as Nomad's: the job must be new).
	EnforceAbsent bool `json:"enforce_absent,omitempty"`
}

// StopJob stops a job (a new version with Stop set) or, with Purge, deletes it.
type StopJob struct {
	Namespace string              `json:"namespace"`
	JobID     string              `json:"job_id"`
	Purge     bool                `json:"purge,omitempty"`
	Eval      *structs.Evaluation `json:"eval,omitempty"`
	Now       int64               `json:"now"`
	// KeepVersions: as UpsertJob's.
	KeepVersions int `json:"keep_versions,omitempty"`
}

// NodeStatus changes a node's status (ready, disconnected, down, ...).
type NodeStatus struct {
	NodeID      string `json:"node_id"`
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
	Now         int64  `json:"now"`
}

// NodeEligibility changes a node's scheduling eligibility and drain flag.
type NodeEligibility struct {
	NodeID   string `json:"node_id"`
	Eligible bool   `json:"eligible"`
	Drain    bool   `json:"drain"`
	Now      int64  `json:"now"`
}

// ApplyPlan commits a scheduler plan: its placements and stops, the updated
// evaluation that produced it, and any follow-up evaluations.
type ApplyPlan struct {
	Plan     *structs.Plan         `json:"plan"`
	Eval     *structs.Evaluation   `json:"eval,omitempty"`
	NewEvals []*structs.Evaluation `json:"new_evals,omitempty"`
	Now      int64                 `json:"now"`
}

// ClientUpdate is a batch of allocation state changes reported by one node.
type ClientUpdate struct {
	NodeID string              `json:"node_id"`
	Seq    uint64              `json:"seq"` // highest agent sequence number in the batch
	Allocs []AllocClientUpdate `json:"allocs"`
	Now    int64               `json:"now"`
}

// AllocClientUpdate is the client-side state of one allocation.
type AllocClientUpdate struct {
	ID                string                        `json:"id"`
	ClientStatus      string                        `json:"client_status"`
	ClientDescription string                        `json:"client_description,omitempty"`
	TaskStates        map[string]*structs.TaskState `json:"task_states,omitempty"`
	ModifyTime        int64                         `json:"modify_time"` // unix ns; 0 = the command's Now
	// Seq is the agent's sequence number of this report (0: unsequenced).
	Seq uint64 `json:"seq,omitempty"`
	// Services is the alloc's full set of service instances: it replaces
	// the set registered before. Ignored (all removed) once the alloc's
	// client status is terminal.
	Services []*structs.ServiceRegistration `json:"services,omitempty"`
	// Health is the agent's one report of the alloc's deployment health
	// (health.go): applied only to an alloc of that deployment whose
	// health is not known yet.
	Health *AllocHealthReport `json:"health,omitempty"`
}

// DeleteService removes one service instance (an operator's
// `central service delete`). Its agent registers it again with its next
// update if the instance still exists.
type DeleteService struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	ID        string `json:"id"`
}

// AllocEvents records a central decision on allocations (e.g. Lost,
// Reconnected), optionally setting their client status.
type AllocEvents struct {
	AllocIDs     []string           `json:"alloc_ids"`
	Event        structs.AllocEvent `json:"event"`
	ClientStatus string             `json:"client_status,omitempty"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic("BUG: cbor enc mode: " + err.Error())
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:  MaxNestedLevels,
		MaxArrayElements: MaxArrayElements,
		MaxMapPairs:      MaxMapPairs,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
		// Unknown fields are ignored: a newer leader may write fields an
		// older follower does not know yet.
	}.DecMode()
	if err != nil {
		panic("BUG: cbor dec mode: " + err.Error())
	}
}

// EncodeCommand encodes c deterministically for the Raft log.
func EncodeCommand(c *Command) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil command", ErrBadCommand)
	}
	b, err := encMode.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("state: encode command: %w", err)
	}
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d): split the batch", ErrCommandTooLarge, len(b), MaxCommandSize)
	}
	return b, nil
}

// DecodeCommand decodes a Raft log entry under strict limits. It never
// panics; every failure is an error wrapping ErrBadCommand or
// ErrCommandTooLarge.
func DecodeCommand(b []byte) (*Command, error) {
	if len(b) > MaxCommandSize {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrCommandTooLarge, len(b), MaxCommandSize)
	}
	var c Command
	if err := decMode.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return &c, nil
}
