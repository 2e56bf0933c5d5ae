package protocol

// Version is the protocol version every message carries in field V. A
// receiver rejects messages of a version it does not speak.
const Version = 1

// Client statuses of an allocation, as agents report them.
const (
	AllocPending  = "pending"
	AllocRunning  = "running"
	AllocComplete = "complete"
	AllocFailed   = "failed"
	AllocLost     = "lost"
	AllocUnknown  = "unknown"
)

// Desired statuses of an allocation, as central decides them.
const (
	DesiredRun  = "run"
	DesiredStop = "stop"
)

// Task states.
const (
	TaskPending = "pending"
	TaskRunning = "running"
	TaskDead    = "dead"
)

// Task event types, named as Nomad names them.
const (
	EventReceived        = "Received"
	EventTaskSetup       = "Task Setup"
	EventStarted         = "Started"
	EventTerminated      = "Terminated"
	EventRestarting      = "Restarting"
	EventNotRestarting   = "Not Restarting"
	EventKilling         = "Killing"
	EventKilled          = "Killed"
	EventDriverFailure   = "Driver Failure"
	EventSetupFailure    = "Setup Failure"
	EventReattached      = "Reattached"
	EventReconnected     = "Reconnected"
	EventRestartSignal   = "Restart Signaled"
	EventTemplateRender  = "Template Rendered"
	EventSiblingFailed   = "Sibling Task Failed"
	EventLeaderDead      = "Leader Task Dead"
	EventFailedValidate  = "Failed Validation"
	EventDownloadFailure = "Failed Artifact Download"
)

// Hello registers a node: sent on start and on every reconnect.
type Hello struct {
	V            int               `cbor:"0,keyasint"`
	NodeID       string            `cbor:"1,keyasint"`
	Name         string            `cbor:"2,keyasint"`
	Datacenter   string            `cbor:"3,keyasint"`
	Attributes   map[string]string `cbor:"4,keyasint,omitempty"` // fingerprint: os.name, cpu.arch, ...
	Meta         map[string]string `cbor:"5,keyasint,omitempty"`
	Drivers      []string          `cbor:"6,keyasint,omitempty"` // healthy drivers
	Resources    Resources         `cbor:"7,keyasint"`           // what the node offers
	Boot         int64             `cbor:"8,keyasint,omitempty"` // agent start, unix ms: tells a restart from a reconnect
	DesiredIndex uint64            `cbor:"9,keyasint,omitempty"` // index of the last desired state applied
	Seq          uint64            `cbor:"10,keyasint,omitempty"`
	Version      string            `cbor:"11,keyasint,omitempty"` // agent build version
	Time         int64             `cbor:"12,keyasint,omitempty"` // unix ms on the agent's clock
	// Allocs lists every allocation the agent holds, so central can tell what
	// survived a reboot or an outage.
	Allocs []AllocUpdate `cbor:"13,keyasint,omitempty"`
	// Agent upgrades (upgrade.go), sent only by an agent that central
	// ordered an upgrade (Desired.Upgrade: central understands them).
	// UpgradeFailed reports the last upgrade that did not take, until
	// central orders another one. Reattached says the agent has
	// re-attached every allocation it held when it started (central
	// judges an upgraded node healthy by it); the agent sends another
	// hello once it has, when its first one could not say so yet. Key
	// 16 is reserved for upgrades.
	UpgradeFailed *UpgradeFailure `cbor:"14,keyasint,omitempty"`
	Reattached    bool            `cbor:"15,keyasint,omitempty"`
	// Reserved is what the agent keeps for itself and the host (its
	// config's reserved block): central's scheduler subtracts it from
	// Resources. An older central refuses the field: the agent sends it
	// only to a central whose desired state carried Metrics, and says
	// hello again when it learns that.
	Reserved *Reserved `cbor:"17,keyasint,omitempty"`
}

// Reserved is what a node keeps out of what it offers (Nomad client's
// reserved block): CPU in MHz, memory in MB.
type Reserved struct {
	CPU      int `cbor:"0,keyasint,omitempty"`
	MemoryMB int `cbor:"1,keyasint,omitempty"`
}

// Resources are amounts of compute: offered by a node or asked by a task.
type Resources struct {
	CPU      int `cbor:"0,keyasint,omitempty"` // MHz
	MemoryMB int `cbor:"1,keyasint,omitempty"`
	Cores    int `cbor:"2,keyasint,omitempty"`
}

// Heartbeat keeps a node alive at central. Kept under 64 bytes (96 with
// the disk fields).
type Heartbeat struct {
	V       int    `cbor:"0,keyasint"`
	Seq     uint64 `cbor:"1,keyasint"`
	Time    int64  `cbor:"2,keyasint"`           // unix ms on the agent's clock
	Running int    `cbor:"3,keyasint,omitempty"` // running allocs
	Outbox  int    `cbor:"4,keyasint,omitempty"` // unacknowledged updates
	Boot    int64  `cbor:"5,keyasint,omitempty"` // agent start, unix ms
	// Agent counters, for central's metrics (added; omitted when zero).
	Tasks      int    `cbor:"6,keyasint,omitempty"` // tasks running
	Restarts   uint64 `cbor:"7,keyasint,omitempty"` // restarts of the tasks the agent holds
	Reconnects uint64 `cbor:"8,keyasint,omitempty"` // MQTT reconnects since the agent started
	// SoCTemp is the board's SoC temperature in tenths of a degree Celsius
	// (483 = 48.3 °C), where the board exposes one (added; omitted when 0).
	SoCTemp int `cbor:"9,keyasint,omitempty"`
	// The data dir's filesystem at the agent's last GC check (bytes used
	// and available) and the finished allocations' directories its GC
	// removed since it started. Sent only once a desired state has shown
	// central understands them (it carried Kept): an older central
	// refuses a heartbeat with fields it does not know.
	DiskUsed  uint64 `cbor:"10,keyasint,omitempty"`
	DiskAvail uint64 `cbor:"11,keyasint,omitempty"`
	GCRemoved uint64 `cbor:"12,keyasint,omitempty"`
	// Device metrics, sent only to a central whose desired state carried
	// Metrics (an older central refuses them); to that central the agent
	// leaves Boot out (it is in every hello), which pays for them.
	// CPU is the whole node's busy time since the previous heartbeat in
	// permille of all its cores (/proc/stat); MemUsedMiB is MemTotal -
	// MemAvailable (/proc/meminfo; the total is Hello.Resources.MemoryMB);
	// Load1 is the 1-minute load average ×100 (/proc/loadavg). To such a
	// central the data dir's disk goes in MiB (keys 16-17) instead of
	// bytes (keys 10-11): 4 bytes each instead of 10 on any disk over
	// 4 GiB. Keys 18-19 are reserved for device metrics.
	CPU          int    `cbor:"13,keyasint,omitempty"`
	MemUsedMiB   uint64 `cbor:"14,keyasint,omitempty"`
	Load1        int    `cbor:"15,keyasint,omitempty"`
	DiskUsedMiB  uint64 `cbor:"16,keyasint,omitempty"`
	DiskAvailMiB uint64 `cbor:"17,keyasint,omitempty"`
	// Applied is the index of the last desired state the agent applied,
	// sent only to a central whose desired state carried Echo (an older
	// central refuses it). Central re-sends a desired state a node's
	// heartbeats show it never got: a broker that lost or never delivered
	// a retained message (seen with NATS's MQTT under load) no longer
	// leaves a node on an old state until the next change.
	Applied uint64 `cbor:"20,keyasint,omitempty"`
}

// Disk returns the data dir's filesystem in bytes, from whichever keys
// the heartbeat carries (MiB or bytes); 0, 0 when it carries none.
func (h *Heartbeat) Disk() (used, avail uint64) {
	if h.DiskUsedMiB > 0 || h.DiskAvailMiB > 0 {
		return h.DiskUsedMiB << 20, h.DiskAvailMiB << 20
	}
	return h.DiskUsed, h.DiskAvail
}

// AttrMetrics is the hello attribute by which an agent tells central it
// understands Desired.Metrics (an older agent refuses the field).
const AttrMetrics = "tether.metrics"

// AttrEcho is the hello attribute by which an agent tells central it
// understands Desired.Echo, and then reports Heartbeat.Applied.
const AttrEcho = "tether.echo"

// Update is a batch of allocation state changes.
type Update struct {
	V      int           `cbor:"0,keyasint"`
	Allocs []AllocUpdate `cbor:"1,keyasint"`
}

// AllocUpdate is the latest known client state of one allocation. Seq is the
// agent's sequence number: central acks the highest one it has applied.
type AllocUpdate struct {
	Seq          uint64               `cbor:"0,keyasint"`
	AllocID      string               `cbor:"1,keyasint"`
	ClientStatus string               `cbor:"2,keyasint"`
	Description  string               `cbor:"3,keyasint,omitempty"`
	TaskStates   map[string]TaskState `cbor:"4,keyasint,omitempty"`
	Time         int64                `cbor:"5,keyasint"` // unix ms when the agent saw the change
	JobVersion   uint64               `cbor:"6,keyasint,omitempty"`
	// Services is the full set of service instances the alloc registers
	// now (each running task's services, with health). An update replaces
	// the alloc's previous set; a terminal alloc registers none.
	Services []ServiceReg `cbor:"7,keyasint,omitempty"`
	// Health is the alloc's deployment health once decided (see
	// DesiredAlloc.Health); nil before, and for allocs without a policy.
	Health *AllocHealth `cbor:"8,keyasint,omitempty"`
}

// ServiceReg is one service instance an agent registers for an alloc.
type ServiceReg struct {
	Name      string   `cbor:"0,keyasint"`
	Task      string   `cbor:"1,keyasint,omitempty"` // empty for group services
	PortLabel string   `cbor:"2,keyasint,omitempty"`
	Address   string   `cbor:"3,keyasint"`
	Port      int      `cbor:"4,keyasint"`
	Tags      []string `cbor:"5,keyasint,omitempty"`
	Healthy   bool     `cbor:"6,keyasint"`
	// Output is the last failing check's message, for operators.
	Output string `cbor:"7,keyasint,omitempty"`
}

// TaskState is the state of one task of an allocation.
type TaskState struct {
	State      string      `cbor:"0,keyasint"`
	Failed     bool        `cbor:"1,keyasint,omitempty"`
	Restarts   int         `cbor:"2,keyasint,omitempty"`
	StartedAt  int64       `cbor:"3,keyasint,omitempty"` // unix ms
	FinishedAt int64       `cbor:"4,keyasint,omitempty"` // unix ms
	ExitCode   int         `cbor:"5,keyasint,omitempty"`
	Events     []TaskEvent `cbor:"6,keyasint,omitempty"` // newest last, bounded by the agent
}

// TaskEvent is one thing that happened to a task.
type TaskEvent struct {
	Type     string `cbor:"0,keyasint"`
	Time     int64  `cbor:"1,keyasint"` // unix ms
	Message  string `cbor:"2,keyasint,omitempty"`
	ExitCode int    `cbor:"3,keyasint,omitempty"`
	Signal   int    `cbor:"4,keyasint,omitempty"`
}

// Desired is the full set of allocations central wants on one node. It is
// published retained, so a node that restarts while cut off from central
// still learns it from its site broker. Index is the Raft index it was
// computed at; agents ignore a Desired older than the one they hold.
type Desired struct {
	V      int            `cbor:"0,keyasint"`
	NodeID string         `cbor:"1,keyasint"`
	Index  uint64         `cbor:"2,keyasint"`
	Time   int64          `cbor:"3,keyasint"` // unix ms at central
	Allocs []DesiredAlloc `cbor:"4,keyasint"`
	// Sig is central's signature over the message encoded with Sig empty.
	Sig []byte `cbor:"5,keyasint,omitempty"`
	// Kept, sent only to agents whose hello carries the attribute
	// AttrKeptAllocs (an older agent refuses the field), says which of
	// this node's allocations central still holds besides Allocs. An
	// allocation in neither was garbage-collected by central: its agent
	// may remove its directory gc_interval later, as Nomad's client does.
	Kept *KeptAllocs `cbor:"6,keyasint,omitempty"`
	// Upgrade, sent only to agents whose hello carries AttrUpgrade (an
	// older agent refuses the field), orders the agent to run another
	// build (upgrade.go); nil: keep the running one.
	Upgrade *AgentUpgrade `cbor:"7,keyasint,omitempty"`
	// Metrics, sent only to agents whose hello carries AttrMetrics (an
	// older agent refuses the field), says central takes the heartbeat's
	// device metrics (keys 13-15) and the hello's Reserved.
	Metrics bool `cbor:"8,keyasint,omitempty"`
	// Echo, sent only to agents whose hello carries AttrEcho (an older
	// agent refuses the field), says central takes Heartbeat.Applied.
	Echo bool `cbor:"9,keyasint,omitempty"`
}

// AttrKeptAllocs is the hello attribute by which an agent tells central it
// understands Desired.Kept.
const AttrKeptAllocs = "tether.desired.kept"

// MaxKeptAllocs bounds KeptAllocs.IDs (about 9.5 KB of allocation IDs,
// inside the room a desired state keeps besides its allocations): past it
// central sends Partial.
const MaxKeptAllocs = 256

// KeptAllocs lists the allocations central holds for a node but no longer
// wants run there (finished, stopped), sorted. Partial means the list was
// cut at MaxKeptAllocs: the agent then takes no allocation as collected.
type KeptAllocs struct {
	IDs     []string `cbor:"0,keyasint,omitempty"`
	Partial bool     `cbor:"1,keyasint,omitempty"`
}

// DesiredAlloc is one allocation as the agent needs it to run it.
type DesiredAlloc struct {
	ID            string            `cbor:"0,keyasint"`
	JobID         string            `cbor:"1,keyasint"`
	JobVersion    uint64            `cbor:"2,keyasint"`
	TaskGroup     string            `cbor:"3,keyasint"`
	Namespace     string            `cbor:"4,keyasint,omitempty"`
	DesiredStatus string            `cbor:"5,keyasint"` // run | stop
	Tasks         []Task            `cbor:"6,keyasint"`
	Ports         []Port            `cbor:"7,keyasint,omitempty"`
	Restart       RestartPolicy     `cbor:"8,keyasint"`
	Meta          map[string]string `cbor:"9,keyasint,omitempty"` // job+group meta, merged
	JobType       string            `cbor:"10,keyasint,omitempty"`
	Name          string            `cbor:"11,keyasint,omitempty"` // e.g. web.api[0]
	Index         int               `cbor:"12,keyasint,omitempty"` // alloc index within the group
	Datacenter    string            `cbor:"13,keyasint,omitempty"`
	Region        string            `cbor:"14,keyasint,omitempty"`
	// StopAfterMs stops the alloc on the agent after this long without
	// contact with central (Nomad's stop_on_client_after); 0 never.
	StopAfterMs int64 `cbor:"15,keyasint,omitempty"`
	// Payload is a dispatched job's payload (at most 16 KiB), sent only to
	// allocations with a task that has a DispatchFile. An agent older than
	// this field refuses it.
	Payload []byte `cbor:"16,keyasint,omitempty"`
	// Health, set for an allocation placed by a deployment (DeploymentID),
	// asks the agent to decide its health and report it once in an
	// AllocUpdate. An agent older than these fields refuses them.
	Health       *HealthPolicy `cbor:"17,keyasint,omitempty"`
	DeploymentID string        `cbor:"18,keyasint,omitempty"`
	// ParentID names the periodic or parameterized job a child job was
	// launched from (NOMAD_JOB_PARENT_ID). An agent older than this field
	// refuses it.
	ParentID string `cbor:"19,keyasint,omitempty"`
	// Actions are an operator's restart and signal requests (central
	// alloc restart|signal), oldest first, at most MaxAllocActions, each
	// with a Seq that grows per allocation. An agent applies each action
	// once: those above the highest Seq it applied (kept in its state
	// file, so a reboot does not apply them again); the actions present
	// when it first learns of the allocation are taken as applied. Sent
	// only for nodes whose hello carries AttrAllocActions.
	Actions []AllocAction `cbor:"20,keyasint,omitempty"`
}

// Operator actions on a running allocation.
const (
	ActionRestart = "restart"
	ActionSignal  = "signal"
)

// AttrAllocActions is the hello attribute by which an agent tells central
// it applies DesiredAlloc.Actions: central refuses a restart or signal
// for a node whose agent does not say so (an older agent would refuse the
// whole desired state).
const AttrAllocActions = "tether.alloc.actions"

// MaxAllocActions bounds DesiredAlloc.Actions: central keeps the newest.
const MaxAllocActions = 8

// AllocAction is one operator request on an allocation's tasks.
type AllocAction struct {
	Seq    uint64 `cbor:"0,keyasint"`
	Kind   string `cbor:"1,keyasint"`           // restart | signal
	Task   string `cbor:"2,keyasint,omitempty"` // "": every running task
	Signal string `cbor:"3,keyasint,omitempty"` // signal: its name, e.g. SIGHUP
}

// Health check modes of a deployment (the update block's health_check).
const (
	HealthChecks     = "checks"      // tasks running and every check passing for MinHealthyMs
	HealthTaskStates = "task_states" // tasks running for MinHealthyMs
	HealthManual     = "manual"      // the agent reports nothing; an operator decides
)

// HealthPolicy is how an agent decides an allocation's deployment health.
type HealthPolicy struct {
	Mode         string `cbor:"0,keyasint"`           // checks | task_states | manual
	MinHealthyMs int64  `cbor:"1,keyasint,omitempty"` // min_healthy_time
	DeadlineMs   int64  `cbor:"2,keyasint,omitempty"` // healthy_deadline, from the start of tracking; 0: none
}

// AllocHealth is an allocation's deployment health as its agent decided
// it, once per deployment. Every later update of the allocation carries
// it again (an update replaces the previous one in the outbox).
type AllocHealth struct {
	Healthy      bool   `cbor:"0,keyasint"`
	Time         int64  `cbor:"1,keyasint"`           // unix ms when decided
	Reason       string `cbor:"2,keyasint,omitempty"` // why unhealthy
	DeploymentID string `cbor:"3,keyasint"`
}

// MaxDispatchPayload bounds DesiredAlloc.Payload, as Nomad bounds a
// dispatch payload: 16 KiB.
const MaxDispatchPayload = 16 << 10

// Task is one task of an allocation.
type Task struct {
	Name        string            `cbor:"0,keyasint"`
	Driver      string            `cbor:"1,keyasint"`
	Config      map[string]any    `cbor:"2,keyasint,omitempty"` // driver config, as in the job file
	Env         map[string]string `cbor:"3,keyasint,omitempty"`
	Resources   Resources         `cbor:"4,keyasint"`
	Meta        map[string]string `cbor:"5,keyasint,omitempty"`
	User        string            `cbor:"6,keyasint,omitempty"`
	KillTimeout int64             `cbor:"7,keyasint,omitempty"` // ms
	KillSignal  string            `cbor:"8,keyasint,omitempty"`
	Leader      bool              `cbor:"9,keyasint,omitempty"`
	Templates   []Template        `cbor:"10,keyasint,omitempty"`
	Services    []Service         `cbor:"11,keyasint,omitempty"`
	Lifecycle   string            `cbor:"12,keyasint,omitempty"` // prestart | poststart | poststop
	Sidecar     bool              `cbor:"13,keyasint,omitempty"`
	Artifacts   []Artifact        `cbor:"14,keyasint,omitempty"`
	// Logs bounds the task's log files; nil: 10 files of 10 MB per stream.
	// An agent older than this field refuses a desired state that has it.
	Logs *LogConfig `cbor:"15,keyasint,omitempty"`
	// DispatchFile is where the alloc's Payload is written before the task
	// starts, relative to its local/ dir (dispatch_payload { file }).
	DispatchFile string `cbor:"17,keyasint,omitempty"`
	// Restart is the task's own restart policy (its restart block merged
	// over the group's); nil: the allocation's. An agent older than this
	// field refuses a desired state that has it.
	Restart *RestartPolicy `cbor:"16,keyasint,omitempty"`
}

// LogConfig is a task's logs block.
type LogConfig struct {
	MaxFiles      int  `cbor:"0,keyasint"`
	MaxFileSizeMB int  `cbor:"1,keyasint"`
	Disabled      bool `cbor:"2,keyasint,omitempty"`
}

// Artifact is a file the agent downloads into the task dir before the task
// starts, verified against its checksum.
type Artifact struct {
	Source      string `cbor:"0,keyasint"`
	Destination string `cbor:"1,keyasint,omitempty"` // relative to the task dir; default local/
	Checksum    string `cbor:"2,keyasint,omitempty"` // sha256:<hex> | sha512:<hex>
	Mode        string `cbor:"3,keyasint,omitempty"` // any | file
}

// Port is a network port of an allocation: Value on the host, To inside the task.
type Port struct {
	Label  string `cbor:"0,keyasint"`
	Value  int    `cbor:"1,keyasint"`
	To     int    `cbor:"2,keyasint,omitempty"`
	HostIP string `cbor:"3,keyasint,omitempty"`
}

// RestartPolicy says what the agent does when a task exits.
type RestartPolicy struct {
	Attempts   int    `cbor:"0,keyasint"`
	IntervalMs int64  `cbor:"1,keyasint"`
	DelayMs    int64  `cbor:"2,keyasint"`
	Mode       string `cbor:"3,keyasint"` // fail | delay
	// OnSuccess restarts a task that exited 0 too (service jobs do; batch does not).
	OnSuccess bool `cbor:"4,keyasint,omitempty"`
}

// Template is a file (or env) the agent renders for a task.
type Template struct {
	Data         string `cbor:"0,keyasint"`
	Destination  string `cbor:"1,keyasint"`
	Env          bool   `cbor:"2,keyasint,omitempty"`
	ChangeMode   string `cbor:"3,keyasint,omitempty"` // restart | signal | noop
	ChangeSignal string `cbor:"4,keyasint,omitempty"`
	Perms        string `cbor:"5,keyasint,omitempty"`
	LeftDelim    string `cbor:"6,keyasint,omitempty"`
	RightDelim   string `cbor:"7,keyasint,omitempty"`
	Source       string `cbor:"8,keyasint,omitempty"` // a file in the task dir, instead of Data
	SplayMs      int64  `cbor:"9,keyasint,omitempty"` // random wait before a change_mode action
}

// Service is a service a task registers.
type Service struct {
	Name      string   `cbor:"0,keyasint"`
	PortLabel string   `cbor:"1,keyasint,omitempty"`
	Tags      []string `cbor:"2,keyasint,omitempty"`
	Address   string   `cbor:"3,keyasint,omitempty"`
	Provider  string   `cbor:"4,keyasint,omitempty"`
	Checks    []Check  `cbor:"5,keyasint,omitempty"`
}

// Check is a health check of a service.
type Check struct {
	Type       string `cbor:"0,keyasint"` // http | tcp
	Path       string `cbor:"1,keyasint,omitempty"`
	IntervalMs int64  `cbor:"2,keyasint"`
	TimeoutMs  int64  `cbor:"3,keyasint"`
	PortLabel  string `cbor:"4,keyasint,omitempty"`
	// check_restart: restart the task after RestartLimit consecutive
	// failures, counted once RestartGraceMs has passed since the task
	// started (0: never). Checks have no warning state, so
	// RestartIgnoreWarnings changes nothing yet.
	RestartLimit          int   `cbor:"5,keyasint,omitempty"`
	RestartGraceMs        int64 `cbor:"6,keyasint,omitempty"`
	RestartIgnoreWarnings bool  `cbor:"7,keyasint,omitempty"`
	// An http check's request: method ("" is GET), headers ("Host" sets
	// the request's host) and body.
	Method string              `cbor:"8,keyasint,omitempty"`
	Header map[string][]string `cbor:"9,keyasint,omitempty"`
	Body   string              `cbor:"10,keyasint,omitempty"`
}

// Ack tells an agent the highest update sequence number central applied.
type Ack struct {
	V   int    `cbor:"0,keyasint"`
	Seq uint64 `cbor:"1,keyasint"`
	// Rehello asks the agent to send its Hello again: central does not know
	// the node (its state was lost or the node was removed) but hears it.
	Rehello bool `cbor:"2,keyasint,omitempty"`
}

// Online is the retained online marker (the LWT carries Online=false).
type Online struct {
	V      int   `cbor:"0,keyasint"`
	Online bool  `cbor:"1,keyasint"`
	Time   int64 `cbor:"2,keyasint,omitempty"`
}

// ServiceSet is every instance of one service, published retained on svc/<name>.
type ServiceSet struct {
	V         int               `cbor:"0,keyasint"`
	Name      string            `cbor:"1,keyasint"`
	Index     uint64            `cbor:"2,keyasint"`
	Instances []ServiceInstance `cbor:"3,keyasint"`
	// Sig is central's signature over the message encoded with Sig empty
	// (added for signed desired state; omitted when central does not sign).
	Sig []byte `cbor:"4,keyasint,omitempty"`
}

// ServiceInstance is one registered instance of a service.
type ServiceInstance struct {
	ID         string   `cbor:"0,keyasint"`
	Address    string   `cbor:"1,keyasint"`
	Port       int      `cbor:"2,keyasint"`
	Tags       []string `cbor:"3,keyasint,omitempty"`
	NodeID     string   `cbor:"4,keyasint"`
	AllocID    string   `cbor:"5,keyasint"`
	JobID      string   `cbor:"6,keyasint,omitempty"`
	Datacenter string   `cbor:"7,keyasint,omitempty"`
	Healthy    bool     `cbor:"8,keyasint"`
}
