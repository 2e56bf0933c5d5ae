// Package structs holds central's data model: nodes, allocations,
// evaluations and plans. Jobs are jobspec.Job. Values stored in the state
// store are immutable once inserted: copy before you change one.
package structs

import (
	"crypto/rand"
	"fmt"

	"github.com/tether-edge/tether/jobspec"
)

// Node statuses.
const (
	NodeInitializing = "initializing"
	NodeReady        = "ready"
	NodeDisconnected = "disconnected"
	NodeDown         = "down"
)

// Node is an agent as central knows it.
type Node struct {
	ID                string            `json:"id"`
	Name              string            `json:"name"`
	Datacenter        string            `json:"datacenter"`
	Status            string            `json:"status"`
	StatusDescription string            `json:"status_description,omitempty"`
	Drivers           []string          `json:"drivers"`
	Attributes        map[string]string `json:"attributes"`
	Meta              map[string]string `json:"meta,omitempty"`
	Resources         Resources         `json:"resources"`
	// Reserved is what the agent keeps out of Resources (its reserved
	// block, reserved.go); nil: nothing.
	Reserved        *Reserved `json:"reserved,omitempty"`
	Drain           bool      `json:"drain"`
	Eligible        bool      `json:"eligible"` // scheduling eligibility
	Version         string    `json:"version,omitempty"`
	Boot            int64     `json:"boot,omitempty"`    // agent start, unix ms
	StatusUpdatedAt int64     `json:"status_updated_at"` // unix ns
	LastSeq         uint64    `json:"last_seq"`          // highest update seq applied
	// Agent upgrades (ota.go), from the last hello: the last upgrade the
	// agent reports failed, and whether it has re-attached every
	// allocation since it started.
	UpgradeFailed *UpgradeFailure `json:"upgrade_failed,omitempty"`
	Reattached    bool            `json:"reattached,omitempty"`
	CreateIndex   uint64          `json:"create_index"`
	ModifyIndex   uint64          `json:"modify_index"`
}

// Resources are compute amounts: offered by a node or used by an alloc.
type Resources struct {
	CPU      int `json:"cpu"`       // MHz
	MemoryMB int `json:"memory_mb"` // MB
	Cores    int `json:"cores,omitempty"`
}

// Add returns r + o.
func (r Resources) Add(o Resources) Resources {
	return Resources{CPU: r.CPU + o.CPU, MemoryMB: r.MemoryMB + o.MemoryMB, Cores: r.Cores + o.Cores}
}

// Allocation statuses are protocol.Alloc* (client) and protocol.Desired* (desired).

// Allocation is one placement of a task group on a node.
type Allocation struct {
	ID                 string                `json:"id"`
	Namespace          string                `json:"namespace"`
	EvalID             string                `json:"eval_id"`
	Name               string                `json:"name"` // job.group[index]
	Index              int                   `json:"index"`
	NodeID             string                `json:"node_id"`
	NodeName           string                `json:"node_name"`
	JobID              string                `json:"job_id"`
	JobVersion         uint64                `json:"job_version"`
	Job                *jobspec.Job          `json:"-"` // the job version it runs
	TaskGroup          string                `json:"task_group"`
	Resources          Resources             `json:"resources"`
	Ports              []AllocPort           `json:"ports,omitempty"`
	DesiredStatus      string                `json:"desired_status"`
	DesiredDescription string                `json:"desired_description,omitempty"`
	ClientStatus       string                `json:"client_status"`
	ClientDescription  string                `json:"client_description,omitempty"`
	TaskStates         map[string]*TaskState `json:"task_states"`
	Score              float64               `json:"score"` // node rank at placement
	// ClientSeq is the highest agent sequence number applied to this
	// allocation: replays and duplicates with a lower one are ignored.
	ClientSeq uint64       `json:"client_seq,omitempty"`
	Metrics   *AllocMetric `json:"metrics,omitempty"`
	// DeploymentID is the deployment that placed (or adopted) the alloc;
	// DeploymentStatus is its health as the agent reported it.
	DeploymentID     string                 `json:"deployment_id,omitempty"`
	DeploymentStatus *AllocDeploymentStatus `json:"deployment_status,omitempty"`
	// RescheduleTracker lists the earlier reschedules of this alloc's
	// lineage (newest last), for the reschedule policy's attempts/interval.
	RescheduleTracker []RescheduleEvent `json:"reschedule_tracker,omitempty"`
	// FollowupEvalID is the delayed evaluation that will replace this
	// failed alloc once its reschedule delay has passed.
	FollowupEvalID     string       `json:"followup_eval_id,omitempty"`
	PreviousAllocation string       `json:"previous_allocation,omitempty"`
	NextAllocation     string       `json:"next_allocation,omitempty"`
	Events             []AllocEvent `json:"events,omitempty"` // Reconnected, Lost, ...
	// Actions are the operator's restart and signal requests (newest
	// last, at most protocol.MaxAllocActions), carried to the agent in
	// the node's desired state and applied there once each.
	Actions     []AllocAction `json:"actions,omitempty"`
	CreateIndex uint64        `json:"create_index"`
	ModifyIndex uint64        `json:"modify_index"`
	CreateTime  int64         `json:"create_time"` // unix ns
	ModifyTime  int64         `json:"modify_time"` // unix ns
}

// AllocDeploymentStatus is an allocation's health within a deployment.
type AllocDeploymentStatus struct {
	Healthy   *bool  `json:"healthy,omitempty"`   // nil: not yet known
	Timestamp int64  `json:"timestamp,omitempty"` // unix ns when Healthy was set
	Canary    bool   `json:"canary,omitempty"`
	Reason    string `json:"reason,omitempty"` // why unhealthy, as the agent said
}

// RescheduleEvent is one earlier reschedule of an allocation's lineage.
type RescheduleEvent struct {
	RescheduleTime int64  `json:"reschedule_time"` // unix ns
	PrevAllocID    string `json:"prev_alloc_id"`
	PrevNodeID     string `json:"prev_node_id"`
	Delay          int64  `json:"delay"` // ns
}

// Deployment statuses.
const (
	DeploymentRunning    = "running"
	DeploymentPaused     = "paused"
	DeploymentFailed     = "failed"
	DeploymentSuccessful = "successful"
	DeploymentCancelled  = "cancelled"
	DeploymentPending    = "pending" // canaries placed, waiting for promotion
)

// Deployment tracks the rollout of one job version (Nomad's deployments).
type Deployment struct {
	ID                string                      `json:"id"`
	Namespace         string                      `json:"namespace"`
	JobID             string                      `json:"job_id"`
	JobVersion        uint64                      `json:"job_version"`
	JobModifyIndex    uint64                      `json:"job_modify_index"`
	JobCreateIndex    uint64                      `json:"job_create_index"`
	Status            string                      `json:"status"`
	StatusDescription string                      `json:"status_description,omitempty"`
	TaskGroups        map[string]*DeploymentState `json:"task_groups"`
	CreateIndex       uint64                      `json:"create_index"`
	ModifyIndex       uint64                      `json:"modify_index"`
	CreateTime        int64                       `json:"create_time"` // unix ns
	ModifyTime        int64                       `json:"modify_time"` // unix ns
}

// Active reports whether the deployment is still rolling out.
func (d *Deployment) Active() bool {
	switch d.Status {
	case DeploymentRunning, DeploymentPaused, DeploymentPending:
		return true
	}
	return false
}

// DeploymentState is one task group's progress in a deployment.
type DeploymentState struct {
	AutoRevert        bool     `json:"auto_revert,omitempty"`
	AutoPromote       bool     `json:"auto_promote,omitempty"`
	ProgressDeadline  int64    `json:"progress_deadline,omitempty"`   // ns
	RequireProgressBy int64    `json:"require_progress_by,omitempty"` // unix ns
	Promoted          bool     `json:"promoted,omitempty"`
	PlacedCanaries    []string `json:"placed_canaries,omitempty"`
	DesiredCanaries   int      `json:"desired_canaries"`
	DesiredTotal      int      `json:"desired_total"`
	PlacedAllocs      int      `json:"placed_allocs"`
	HealthyAllocs     int      `json:"healthy_allocs"`
	UnhealthyAllocs   int      `json:"unhealthy_allocs"`
	// DisconnectedSkipped counts old allocations on disconnected nodes
	// that the rollout skipped: they neither block it nor count as
	// healthy, and are updated when their node returns.
	DisconnectedSkipped int `json:"disconnected_skipped,omitempty"`
}

// AllocPort is a port assigned to an allocation.
type AllocPort struct {
	Label string `json:"label"`
	Value int    `json:"value"`
	To    int    `json:"to,omitempty"`
}

// DescStoppedByOperator is the desired description of an allocation an
// operator stopped (alloc stop): its replacement names it as
// PreviousAllocation.
const DescStoppedByOperator = "alloc stopped by an operator"

// AllocAction is an operator's restart or signal request on an
// allocation (protocol.AllocAction, with who asked and when).
type AllocAction struct {
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"`             // restart | signal
	Task   string `json:"task,omitempty"`   // "": every running task
	Signal string `json:"signal,omitempty"` // signal only
	Time   int64  `json:"time"`             // unix ns at central
	By     string `json:"by,omitempty"`     // the token's name or accessor
}

// AllocEvent is something central decided about an allocation.
type AllocEvent struct {
	Type    string `json:"type"`
	Time    int64  `json:"time"` // unix ns
	Message string `json:"message,omitempty"`
}

// TaskState is one task's state as its agent last reported it.
type TaskState struct {
	State      string      `json:"state"`
	Failed     bool        `json:"failed"`
	Restarts   int         `json:"restarts"`
	StartedAt  int64       `json:"started_at,omitempty"`  // unix ns
	FinishedAt int64       `json:"finished_at,omitempty"` // unix ns
	Events     []TaskEvent `json:"events"`
}

// TaskEvent is something that happened to a task.
type TaskEvent struct {
	Type     string `json:"type"`
	Time     int64  `json:"time"` // unix ns
	Message  string `json:"message,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
	Signal   int    `json:"signal,omitempty"`
}

// Terminal reports whether the allocation will not run again.
func (a *Allocation) Terminal() bool {
	switch a.ClientStatus {
	case "complete", "failed", "lost":
		return true
	}
	return a.DesiredStatus == "stop" && a.ClientStatus != "running" && a.ClientStatus != "unknown"
}

// Evaluation statuses.
const (
	EvalPending  = "pending"
	EvalComplete = "complete"
	EvalFailed   = "failed"
	EvalBlocked  = "blocked"
)

// Evaluation triggers.
const (
	TriggerJobRegister   = "job-register"
	TriggerJobDeregister = "job-deregister"
	TriggerNodeUpdate    = "node-update"
	TriggerAllocFailure  = "alloc-failure"
	TriggerReconnect     = "reconnect"
	TriggerRetryFailed   = "queued-allocs"
)

// Evaluation is a request to reconcile a job's allocations with its spec.
type Evaluation struct {
	ID                string                  `json:"id"`
	Namespace         string                  `json:"namespace"`
	Priority          int                     `json:"priority"`
	Type              string                  `json:"type"` // the job's type
	TriggeredBy       string                  `json:"triggered_by"`
	JobID             string                  `json:"job_id"`
	JobModifyIndex    uint64                  `json:"job_modify_index"`
	NodeID            string                  `json:"node_id,omitempty"`
	Status            string                  `json:"status"`
	StatusDescription string                  `json:"status_description,omitempty"`
	FailedTGAllocs    map[string]*AllocMetric `json:"failed_tg_allocs,omitempty"`
	QueuedAllocations map[string]int          `json:"queued_allocations,omitempty"`
	PlacedAllocs      []string                `json:"placed_allocs,omitempty"`
	// WaitUntil (unix ns), when set, holds the evaluation back until
	// then: the follow-up that reschedules a failed allocation after its
	// reschedule delay. The leader keeps such evaluations on a timer
	// (rebuilt from the state on every leadership), not in its queue.
	WaitUntil   int64  `json:"wait_until,omitempty"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
	CreateTime  int64  `json:"create_time"`
	ModifyTime  int64  `json:"modify_time"`
}

// AllocMetric says how the scheduler chose (or failed to choose) a node.
type AllocMetric struct {
	NodesEvaluated     int            `json:"nodes_evaluated"`
	NodesFiltered      int            `json:"nodes_filtered"`
	NodesAvailable     map[string]int `json:"nodes_available,omitempty"` // per datacenter
	ConstraintFiltered map[string]int `json:"constraint_filtered,omitempty"`
	NodesExhausted     int            `json:"nodes_exhausted"`
	DimensionExhausted map[string]int `json:"dimension_exhausted,omitempty"`
	CoalescedFailures  int            `json:"coalesced_failures,omitempty"`
}

// Plan is the scheduler's output for one evaluation: what to place and what
// to stop. It is applied through Raft as one entry.
type Plan struct {
	EvalID string `json:"eval_id"`
	// Place holds new allocations, and updated ones (same ID, new fields).
	Place []*Allocation `json:"place,omitempty"`
	// Stop holds allocations to stop, with their new desired/client status set.
	Stop []*Allocation `json:"stop,omitempty"`
	// Unknown holds allocations whose node disconnected while their group's
	// disconnect window (lost_after) is open: set ClientStatus "unknown" and
	// append Events (a "Disconnected" event). They stay desired "run".
	Unknown []*Allocation `json:"unknown,omitempty"`
	// FollowupEvals are delayed evaluations (WaitUntil set) that will
	// reschedule failed allocations once their delay has passed, and
	// Followups names each such allocation's (its FollowupEvalID).
	FollowupEvals []*Evaluation   `json:"followup_evals,omitempty"`
	Followups     []AllocFollowup `json:"followups,omitempty"`
	// Failed holds, per group, why allocations could not be placed.
	Failed map[string]*AllocMetric `json:"failed,omitempty"`
	// Queued counts, per group, allocations still unplaced.
	Queued map[string]int `json:"queued,omitempty"`
	// Deployment, if set, is created (or replaced whole) with the plan:
	// the rollout of the job version it places. Placed allocs name it in
	// their DeploymentID.
	Deployment *Deployment `json:"deployment,omitempty"`
	// DeploymentUpdates change the status of other deployments (an older
	// version's, cancelled by a newer one).
	DeploymentUpdates []*DeploymentStatusUpdate `json:"deployment_updates,omitempty"`
}

// DeploymentStatusUpdate sets one deployment's status.
type DeploymentStatusUpdate struct {
	DeploymentID      string `json:"deployment_id"`
	Status            string `json:"status"`
	StatusDescription string `json:"status_description,omitempty"`
}

// Deployment status descriptions, as Nomad words them.
const (
	DescDeploymentRunning            = "Deployment is running"
	DescDeploymentNeedsPromotion     = "Deployment is running but requires manual promotion"
	DescDeploymentAutoPromote        = "Deployment is running pending automatic promotion"
	DescDeploymentPaused             = "Deployment is paused"
	DescDeploymentSuccessful         = "Deployment completed successfully"
	DescDeploymentNewerJob           = "Cancelled because job is stopped or has a newer version"
	DescDeploymentFailedUnhealthy    = "Failed due to unhealthy allocation"
	DescDeploymentFailedProgress     = "Failed due to progress deadline"
	DescDeploymentFailedByUser       = "Deployment marked as failed"
	DescDeploymentFailedHealthReport = "Failed: an allocation reported no health within its healthy_deadline"
)

// AllocFollowup sets a failed allocation's FollowupEvalID.
type AllocFollowup struct {
	AllocID string `json:"alloc_id"`
	EvalID  string `json:"eval_id"`
}

// GenerateID returns a random UUID (version 4) for allocations and evaluations.
func GenerateID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ServiceRegistration is one instance of a service, registered by the agent
// running its allocation. Central fills NodeID, JobID, Namespace and
// Datacenter from the allocation and its node, never from the agent.
type ServiceRegistration struct {
	ID          string   `json:"id"`
	ServiceName string   `json:"service_name"`
	Namespace   string   `json:"namespace"`
	JobID       string   `json:"job_id"`
	AllocID     string   `json:"alloc_id"`
	NodeID      string   `json:"node_id"`
	Datacenter  string   `json:"datacenter"`
	Task        string   `json:"task,omitempty"` // empty for a group service
	PortLabel   string   `json:"port_label,omitempty"`
	Address     string   `json:"address"`
	Port        int      `json:"port"`
	Tags        []string `json:"tags"`
	Healthy     bool     `json:"healthy"`
	Output      string   `json:"output,omitempty"` // last failing check's message
	CreateIndex uint64   `json:"create_index"`
	ModifyIndex uint64   `json:"modify_index"`
}

// ServiceID is the deterministic ID of a service instance: one per alloc,
// task (or "group"), service name and port label, so a re-registration
// replaces the same row.
func ServiceID(allocID, task, name, portLabel string) string {
	if task == "" {
		task = "group"
	}
	return fmt.Sprintf("_tether-%s-%s-%s-%s", allocID, task, name, portLabel)
}
