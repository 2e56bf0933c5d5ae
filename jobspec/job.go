package jobspec

import "time"

// Job types.
const (
	JobTypeService = "service"
	JobTypeBatch   = "batch"
	JobTypeSystem  = "system"
)

// Job statuses, as central reports them.
const (
	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// Job is a parsed, validated job file: the unit users submit. The fields
// after TaskGroups are set by central.
type Job struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Region      string            `json:"region"`
	Type        string            `json:"type"`
	Priority    int               `json:"priority"`
	Datacenters []string          `json:"datacenters"`
	Meta        map[string]string `json:"meta,omitempty"`
	Constraints []*Constraint     `json:"constraints,omitempty"`
	TaskGroups  []*TaskGroup      `json:"task_groups"`

	Update        *UpdateStrategy `json:"update,omitempty"` // job level; decode merges it into each group's
	Periodic      *Periodic       `json:"periodic,omitempty"`
	Parameterized *Parameterized  `json:"parameterized,omitempty"`
	// ParentID names the periodic or parameterized job a child was
	// launched from; Payload is a dispatched child's payload.
	ParentID string `json:"parent_id,omitempty"`
	Payload  []byte `json:"payload,omitempty"`
	// DispatchIdempotencyToken is the token a dispatched child was made
	// with: a later dispatch of its parent with the same token returns
	// this child instead of making another.
	DispatchIdempotencyToken string `json:"dispatch_idempotency_token,omitempty"`
	// Stable is set by central once a deployment of this version succeeded.
	Stable bool `json:"stable,omitempty"`

	Version        uint64 `json:"version"`
	Stop           bool   `json:"stop"`
	Status         string `json:"status,omitempty"`
	SubmitTime     int64  `json:"submit_time,omitempty"` // unix ns
	CreateIndex    uint64 `json:"create_index"`
	ModifyIndex    uint64 `json:"modify_index"`
	JobModifyIndex uint64 `json:"job_modify_index"`
}

// TaskGroup is a set of tasks placed together on one node, Count times.
type TaskGroup struct {
	Name        string            `json:"name"`
	Count       int               `json:"count"`
	Constraints []*Constraint     `json:"constraints,omitempty"`
	Networks    []*Network        `json:"networks,omitempty"`
	Restart     *RestartPolicy    `json:"restart,omitempty"`
	Disconnect  *Disconnect       `json:"disconnect,omitempty"`
	Update      *UpdateStrategy   `json:"update,omitempty"`
	Reschedule  *ReschedulePolicy `json:"reschedule,omitempty"`
	// MaxClientDisconnect is Nomad's older form of disconnect.lost_after;
	// Canonicalize folds it into Disconnect.
	MaxClientDisconnect       *time.Duration    `json:"max_client_disconnect,omitempty"`
	StopAfterClientDisconnect *time.Duration    `json:"stop_after_client_disconnect,omitempty"`
	Meta                      map[string]string `json:"meta,omitempty"`
	Services                  []*Service        `json:"services,omitempty"`
	Tasks                     []*Task           `json:"tasks"`
}

// Network is a group's network: the ports its tasks listen on.
type Network struct {
	Mode  string  `json:"mode,omitempty"` // host (default) | bridge
	Ports []*Port `json:"ports,omitempty"`
}

// Port is a named port. Static 0 means central picks a dynamic port.
type Port struct {
	Label       string `json:"label"`
	Static      int    `json:"static,omitempty"`
	To          int    `json:"to,omitempty"`
	HostNetwork string `json:"host_network,omitempty"`
}

// RestartPolicy says what the agent does when a task exits.
type RestartPolicy struct {
	Attempts int           `json:"attempts"`
	Interval time.Duration `json:"interval"`
	Delay    time.Duration `json:"delay"`
	Mode     string        `json:"mode"` // fail | delay
	// RenderTemplates may only be left out or true: Tether renders a
	// task's templates again before every restart (Nomad's default is
	// false: keep the files of the last render).
	RenderTemplates *bool `json:"render_templates,omitempty"`
}

// Disconnect is the group's policy when its node loses contact with central.
type Disconnect struct {
	LostAfter         time.Duration `json:"lost_after,omitempty"`
	StopOnClientAfter time.Duration `json:"stop_on_client_after,omitempty"`
	Replace           *bool         `json:"replace,omitempty"`
	Reconcile         string        `json:"reconcile,omitempty"` // best_score | keep_original | keep_replacement | longest_running
}

// Constraint restricts the nodes a job, group or task may be placed on.
type Constraint struct {
	LTarget string `json:"l_target"` // e.g. ${attr.cpu.arch}
	RTarget string `json:"r_target"`
	Operand string `json:"operand"` // = != regexp version semver set_contains distinct_hosts ...
}

// Task is one process (or module, or container) of a group.
type Task struct {
	Name            string            `json:"name"`
	Driver          string            `json:"driver"`
	User            string            `json:"user,omitempty"`
	Config          map[string]any    `json:"config,omitempty"`
	Env             map[string]string `json:"env,omitempty"`
	Resources       *Resources        `json:"resources"`
	Meta            map[string]string `json:"meta,omitempty"`
	Constraints     []*Constraint     `json:"constraints,omitempty"`
	Services        []*Service        `json:"services,omitempty"`
	Templates       []*Template       `json:"templates,omitempty"`
	Artifacts       []*Artifact       `json:"artifacts,omitempty"`
	KillTimeout     time.Duration     `json:"kill_timeout,omitempty"`
	KillSignal      string            `json:"kill_signal,omitempty"`
	Leader          bool              `json:"leader,omitempty"`
	Lifecycle       *Lifecycle        `json:"lifecycle,omitempty"`
	Restart         *RestartPolicy    `json:"restart,omitempty"` // task level; nil: the group's
	DispatchPayload *DispatchPayload  `json:"dispatch_payload,omitempty"`
	Logs            *LogConfig        `json:"logs,omitempty"` // nil: Nomad's defaults
}

// LogConfig bounds a task's log files on the node: per stream, at most
// MaxFiles files of MaxFileSizeMB each (Nomad's defaults: 10 and 10).
// Disabled discards the output.
type LogConfig struct {
	MaxFiles      int  `json:"max_files"`
	MaxFileSizeMB int  `json:"max_file_size"` // MB
	Disabled      bool `json:"disabled,omitempty"`
}

// Nomad's defaults for a task's logs block.
const (
	DefaultLogMaxFiles      = 10
	DefaultLogMaxFileSizeMB = 10
)

// Resources a task asks for.
type Resources struct {
	CPU      int `json:"cpu"` // MHz
	Cores    int `json:"cores,omitempty"`
	MemoryMB int `json:"memory_mb"` // MB
}

// Lifecycle orders a task relative to the group's main tasks.
type Lifecycle struct {
	Hook    string `json:"hook"` // prestart | poststart | poststop
	Sidecar bool   `json:"sidecar,omitempty"`
}

// Service is a service registered in Tether's native service discovery.
type Service struct {
	Name        string   `json:"name"`
	PortLabel   string   `json:"port,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Address     string   `json:"address,omitempty"`
	AddressMode string   `json:"address_mode,omitempty"`
	Provider    string   `json:"provider,omitempty"` // tether | nomad (alias)
	Checks      []*Check `json:"checks,omitempty"`
}

// Check is a service health check run by the agent.
type Check struct {
	Name      string        `json:"name,omitempty"`
	Type      string        `json:"type"` // http | tcp
	Path      string        `json:"path,omitempty"`
	Interval  time.Duration `json:"interval"`
	Timeout   time.Duration `json:"timeout"`
	PortLabel string        `json:"port,omitempty"`
	// AddressMode is which address the check probes: only "host" (the
	// node's address and the host port) is supported.
	AddressMode string `json:"address_mode,omitempty"`
	// Method, Header and Body shape an http check's request (Method ""
	// is GET; a "Host" header sets the request's host).
	Method string              `json:"method,omitempty"`
	Header map[string][]string `json:"header,omitempty"`
	Body   string              `json:"body,omitempty"`
	// CheckRestart restarts the task when this check keeps failing (a
	// service-level check_restart is copied into each of its checks).
	CheckRestart *CheckRestart `json:"check_restart,omitempty"`
}

// Artifact is a file the agent downloads into the task dir before the task
// starts, verified against its checksum (nothing runs on a mismatch).
type Artifact struct {
	Source      string `json:"source"`
	Destination string `json:"destination,omitempty"` // relative to the task dir; default "local/"
	Checksum    string `json:"checksum,omitempty"`    // sha256:<hex> | sha512:<hex>
	Mode        string `json:"mode,omitempty"`        // any (default) | file
	// Archive is options { archive } as written: false takes an archive as
	// it is. Unset, a source that names an archive is refused at submit,
	// since Nomad would unpack it and the agent does not (submitchecks.go).
	Archive *bool `json:"archive,omitempty"`
}

// Template is a file (or environment) the agent renders for a task.
type Template struct {
	Data         string `json:"data"`
	Destination  string `json:"destination"`
	Env          bool   `json:"env,omitempty"`
	ChangeMode   string `json:"change_mode,omitempty"` // restart | signal | noop
	ChangeSignal string `json:"change_signal,omitempty"`
	Perms        string `json:"perms,omitempty"`
	LeftDelim    string `json:"left_delimiter,omitempty"`
	RightDelim   string `json:"right_delimiter,omitempty"`
	// Source is a file in the task directory rendered instead of Data.
	Source string `json:"source,omitempty"`
	// Splay is the longest random wait before a change_mode action, so a
	// service change does not restart every consumer at once.
	Splay time.Duration `json:"splay,omitempty"`
}

// LookupTaskGroup returns the group named name, or nil.
func (j *Job) LookupTaskGroup(name string) *TaskGroup {
	for _, tg := range j.TaskGroups {
		if tg.Name == name {
			return tg
		}
	}
	return nil
}
