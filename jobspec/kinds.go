package jobspec

import (
	"bytes"
	"encoding/json"
	"time"
)

// JobTypeSysBatch runs a batch task group once to completion on every
// eligible node (Nomad's sysbatch).
const JobTypeSysBatch = "sysbatch"

// Periodic is a job's periodic block: the job itself never runs; the
// leader launches a child job (<id>/periodic-<unix>) at each tick.
type Periodic struct {
	Crons           []string `json:"crons"` // cron and crons, merged
	ProhibitOverlap bool     `json:"prohibit_overlap,omitempty"`
	TimeZone        string   `json:"time_zone,omitempty"` // IANA name; "" is UTC
	Enabled         bool     `json:"enabled"`
}

// UnmarshalJSON reads a periodic block of a job sent as JSON: as in
// Nomad's API, a block that does not say "enabled" is enabled. Unknown
// fields are refused, as in the rest of a submitted job.
func (p *Periodic) UnmarshalJSON(b []byte) error {
	type plain Periodic // without this method
	v := plain{Enabled: true}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	*p = Periodic(v)
	return nil
}

// Parameterized is a job's parameterized block: the job itself never runs;
// `job dispatch` creates children (<id>/dispatch-<unix>-<rand>).
type Parameterized struct {
	Payload      string   `json:"payload"` // optional | required | forbidden
	MetaRequired []string `json:"meta_required,omitempty"`
	MetaOptional []string `json:"meta_optional,omitempty"`
}

// DispatchPayload is a task's dispatch_payload block: where the dispatch
// payload lands, relative to the task's local/ dir.
type DispatchPayload struct {
	File string `json:"file"`
}

// UpdateStrategy is an update block (job level, merged into each group's).
type UpdateStrategy struct {
	Stagger          time.Duration `json:"stagger,omitempty"`
	MaxParallel      int           `json:"max_parallel"`           // 0: no deployments, everything at once
	HealthCheck      string        `json:"health_check,omitempty"` // checks | task_states | manual
	MinHealthyTime   time.Duration `json:"min_healthy_time,omitempty"`
	HealthyDeadline  time.Duration `json:"healthy_deadline,omitempty"`
	ProgressDeadline time.Duration `json:"progress_deadline,omitempty"`
	AutoRevert       bool          `json:"auto_revert,omitempty"`
	AutoPromote      bool          `json:"auto_promote,omitempty"`
	Canary           int           `json:"canary,omitempty"`
}

// ReschedulePolicy is a group's reschedule block (job level merged in).
type ReschedulePolicy struct {
	Attempts      int           `json:"attempts"`
	Interval      time.Duration `json:"interval"`
	Delay         time.Duration `json:"delay"`
	DelayFunction string        `json:"delay_function"` // constant | exponential | fibonacci
	MaxDelay      time.Duration `json:"max_delay,omitempty"`
	Unlimited     bool          `json:"unlimited,omitempty"`
}

// CheckRestart is a check's (or service's) check_restart block.
type CheckRestart struct {
	Limit          int           `json:"limit"`
	Grace          time.Duration `json:"grace,omitempty"`
	IgnoreWarnings bool          `json:"ignore_warnings,omitempty"`
}

// IsParent reports whether j is a periodic or parameterized job that is
// not itself scheduled: only its children run.
func (j *Job) IsParent() bool {
	return j.ParentID == "" && (j.Periodic != nil || j.Parameterized != nil)
}
