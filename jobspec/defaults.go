package jobspec

import (
	"fmt"
	"time"
)

// Constraint operators. "==" is accepted and canonicalized to "=".
const (
	OpEqual            = "="
	OpNotEqual         = "!="
	OpLess             = "<"
	OpLessEqual        = "<="
	OpGreater          = ">"
	OpGreaterEqual     = ">="
	OpRegexp           = "regexp"
	OpVersion          = "version"
	OpSemver           = "semver"
	OpSetContains      = "set_contains"
	OpSetContainsAny   = "set_contains_any"
	OpIsSet            = "is_set"
	OpIsNotSet         = "is_not_set"
	OpDistinctHosts    = "distinct_hosts"
	OpDistinctProperty = "distinct_property"
)

// Drivers are the task drivers a job may name.
var Drivers = []string{"exec", "podman", "wasm"}

// Nomad's defaults, which Canonicalize applies.
const (
	DefaultRegion      = "global"
	DefaultNamespace   = "default"
	DefaultPriority    = 50
	DefaultCPU         = 100 // MHz
	DefaultMemoryMB    = 300
	DefaultKillTimeout = 5 * time.Second
	DefaultProvider    = "tether"
	DefaultCheckEvery  = 10 * time.Second
	DefaultCheckWait   = 2 * time.Second
)

// defaultRestart is Nomad's restart policy for a job type (sysbatch takes
// batch's).
func defaultRestart(jobType string) *RestartPolicy {
	if RunsToCompletion(jobType) {
		return &RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}
	}
	return &RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
}

// Canonicalize fills in Nomad's defaults: job name, type, region,
// namespace, priority, datacenters ["*"], restart policy per job type,
// resources (cpu 100, memory 300), kill_timeout 5s, service names
// (job-group[-task]) and provider, template change_mode, and folds
// max_client_disconnect / stop_after_client_disconnect into Disconnect.
// It is idempotent and safe on any Job, including nil entries. Group Count
// is left alone: 0 is a valid count; the HCL decoder defaults it to 1.
func (j *Job) Canonicalize() {
	if j == nil {
		return
	}
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Region == "" {
		j.Region = DefaultRegion
	}
	if j.Namespace == "" {
		j.Namespace = DefaultNamespace
	}
	if j.Priority == 0 {
		j.Priority = DefaultPriority
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	if j.Update == nil && j.Type == JobTypeService {
		// Nomad's default update strategy for a service job without an
		// update block (its groups inherit it); a system job gets none.
		j.Update = DefaultUpdate()
	}
	if p := j.Parameterized; p != nil && p.Payload == "" {
		p.Payload = DispatchPayloadOptional
	}
	canonConstraints(j.Constraints)
	for _, g := range j.TaskGroups {
		if g != nil {
			g.canonicalize(j)
		}
	}
}

func canonConstraints(cs []*Constraint) {
	for _, c := range cs {
		if c == nil {
			continue
		}
		if c.Operand == "" || c.Operand == "==" {
			c.Operand = OpEqual
		}
	}
}

func (g *TaskGroup) canonicalize(j *Job) {
	if g.Restart == nil {
		g.Restart = defaultRestart(j.Type)
	} else {
		def := defaultRestart(j.Type)
		if g.Restart.Mode == "" {
			g.Restart.Mode = def.Mode
		}
		if g.Restart.Interval == 0 {
			g.Restart.Interval = def.Interval
		}
	}
	for _, n := range g.Networks {
		if n != nil && n.Mode == "" {
			n.Mode = "host"
		}
	}
	if g.MaxClientDisconnect != nil {
		if g.Disconnect == nil {
			g.Disconnect = &Disconnect{}
		}
		if g.Disconnect.LostAfter == 0 {
			g.Disconnect.LostAfter = *g.MaxClientDisconnect
		}
	}
	if g.StopAfterClientDisconnect != nil {
		if g.Disconnect == nil {
			g.Disconnect = &Disconnect{}
		}
		if g.Disconnect.StopOnClientAfter == 0 {
			g.Disconnect.StopOnClientAfter = *g.StopAfterClientDisconnect
		}
	}
	if g.Disconnect != nil {
		if g.Disconnect.Reconcile == "" {
			g.Disconnect.Reconcile = "best_score"
		}
		if g.Disconnect.Replace == nil {
			replace := true
			g.Disconnect.Replace = &replace
		}
	}
	canonReschedule(g.Reschedule, j.Type) // reschedule.go
	if g.Update == nil && j.Update != nil {
		u := *j.Update // a JSON job's job-level update applies to every group
		g.Update = &u
	}
	canonUpdate(g.Update) // update.go
	canonConstraints(g.Constraints)
	canonServices(g.Services, fmt.Sprintf("%s-%s", j.ID, g.Name))
	resolvePortRefs(g) // portref.go
	for _, t := range g.Tasks {
		if t != nil {
			t.canonicalize(j, g)
		}
	}
}

func canonServices(ss []*Service, defaultName string) {
	for _, s := range ss {
		if s == nil {
			continue
		}
		if s.Name == "" {
			s.Name = defaultName
		}
		if s.Provider == "" {
			s.Provider = DefaultProvider
		}
		for _, c := range s.Checks {
			if c == nil {
				continue
			}
			if c.Interval == 0 {
				c.Interval = DefaultCheckEvery
			}
			if c.Timeout == 0 {
				c.Timeout = DefaultCheckWait
			}
		}
	}
}

func (t *Task) canonicalize(j *Job, g *TaskGroup) {
	if t.Resources == nil {
		t.Resources = &Resources{}
	}
	if t.Resources.CPU == 0 && t.Resources.Cores == 0 {
		t.Resources.CPU = DefaultCPU
	}
	if t.Resources.MemoryMB == 0 {
		t.Resources.MemoryMB = DefaultMemoryMB
	}
	if t.KillTimeout == 0 {
		t.KillTimeout = DefaultKillTimeout
	}
	if l := t.Logs; l != nil {
		if l.MaxFiles == 0 {
			l.MaxFiles = DefaultLogMaxFiles
		}
		if l.MaxFileSizeMB == 0 {
			l.MaxFileSizeMB = DefaultLogMaxFileSizeMB
		}
	}
	canonTaskRestart(t, g) // restart.go
	canonConstraints(t.Constraints)
	canonServices(t.Services, fmt.Sprintf("%s-%s-%s", j.ID, g.Name, t.Name))
	for _, tmpl := range t.Templates {
		if tmpl == nil {
			continue
		}
		if tmpl.ChangeMode == "" {
			tmpl.ChangeMode = "restart"
		}
		if tmpl.Perms == "" {
			tmpl.Perms = "0644"
		}
		if tmpl.LeftDelim == "" {
			tmpl.LeftDelim = "{{"
		}
		if tmpl.RightDelim == "" {
			tmpl.RightDelim = "}}"
		}
	}
}
