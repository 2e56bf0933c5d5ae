package allocrunner

import (
	"context"
	"fmt"
	"github.com/tether-edge/tether/agent/artifact"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
	"github.com/tether-edge/tether/protocol"
)

// DefaultKillTimeout is used when a task sets no kill_timeout.
const DefaultKillTimeout = 5 * time.Second

// HandleStore persists task handles so a new agent process can re-attach.
type HandleStore interface {
	PutHandle(allocID, task string, st drivers.HandleState) error
	DeleteHandle(allocID, task string) error
}

// Update is a Runner's report of its allocation's client state. Seq is
// left for the agent to assign.
type Update struct {
	AllocID string
	Client  protocol.AllocUpdate
}

// Config is what a Runner needs.
type Config struct {
	Alloc *protocol.DesiredAlloc
	// Prev is the client state recorded before an agent restart (nil for a
	// new allocation); Handles are the saved handles of its tasks by name.
	Prev    *protocol.AllocUpdate
	Handles map[string]drivers.HandleState

	Drivers   map[string]drivers.Driver
	Node      taskenv.Node
	AllocsDir string // the alloc dir is AllocsDir/<alloc id>
	Store     HandleStore
	Updates   chan<- Update
	Logger    *slog.Logger
	LookupEnv func(string) (string, bool) // the agent's environment; nil: os.LookupEnv
	Now       func() time.Time            // nil: time.Now
	// Services is the agent's service cache that templates read (nil: an
	// empty one); TemplateWait bounds the first render's wait for it
	// (0: template.DefaultFirstWait).
	Services     *svccache.Cache
	TemplateWait time.Duration
	// Artifacts downloads the tasks' artifact blocks (nil: a task with
	// artifacts fails, saying the agent cannot fetch them).
	Artifacts *artifact.Fetcher
}

// Runner runs one allocation.
type Runner struct {
	cfg    Config
	alloc  *protocol.DesiredAlloc
	log    *slog.Logger
	taskCh chan taskUpdate
	stopCh chan struct{}
	stop   sync.Once
	done   chan struct{}

	healthCh chan healthReport
	actCh    chan protocol.AllocAction // operator actions (actions.go)
	live     sync.Map                  // task name → its running drivers.Handle (TaskHandle)

	// owned by the Run goroutine
	stopping bool // Stop was called: the lifecycle coordinator winds down
	states   map[string]protocol.TaskState
	runners  map[string]*taskRunner
	regs     map[string]*taskRegs // by task name: service instances of running tasks
	regGen   uint64
	dh       deployHealth // the allocation's health in its deployment (deployhealth.go)
}

type taskUpdate struct {
	name  string
	state protocol.TaskState
}

// New builds a Runner; Run starts it.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LookupEnv == nil {
		cfg.LookupEnv = os.LookupEnv
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Services == nil {
		cfg.Services = svccache.New(nil, cfg.Logger)
	}
	return &Runner{
		cfg:      cfg,
		alloc:    cfg.Alloc,
		log:      cfg.Logger.With("alloc", cfg.Alloc.ID),
		taskCh:   make(chan taskUpdate),
		stopCh:   make(chan struct{}),
		done:     make(chan struct{}),
		states:   map[string]protocol.TaskState{},
		runners:  map[string]*taskRunner{},
		regs:     map[string]*taskRegs{},
		healthCh: make(chan healthReport),
		actCh:    make(chan protocol.AllocAction, protocol.MaxAllocActions),
	}
}

// TaskHandle returns the handle of the named task while it runs (nil
// otherwise), for `alloc exec`. Safe from any goroutine.
func (r *Runner) TaskHandle(name string) drivers.Handle {
	if h, ok := r.live.Load(name); ok {
		return h.(drivers.Handle)
	}
	return nil
}

// AllocDir is the allocation's directory.
func (r *Runner) AllocDir() string { return filepath.Join(r.cfg.AllocsDir, r.alloc.ID) }

// Stop asks the Runner to kill its tasks; it returns at once. Done is
// closed when they are all dead.
func (r *Runner) Stop() { r.stop.Do(func() { close(r.stopCh) }) }

// Done is closed when Run has returned.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Run runs the allocation until every task is dead or ctx is cancelled. On
// cancel it returns without touching the tasks (the agent is shutting down;
// a new agent re-attaches to them).
func (r *Runner) Run(ctx context.Context) {
	defer close(r.done)
	ctx, cancelChecks := context.WithCancel(ctx) // checks stop when Run returns
	defer cancelChecks()
	newAlloc := r.cfg.Prev == nil
	setupErr := r.setupDirs()
	knownDrivers := make([]string, 0, len(r.cfg.Drivers))
	for n := range r.cfg.Drivers {
		knownDrivers = append(knownDrivers, n)
	}
	sort.Strings(knownDrivers)

	var wg sync.WaitGroup
	live := 0
	exited := make(chan string, len(r.alloc.Tasks))
	for i := range r.alloc.Tasks {
		task := &r.alloc.Tasks[i]
		var prev protocol.TaskState
		if r.cfg.Prev != nil {
			prev = r.cfg.Prev.TaskStates[task.Name]
		}
		if prev.State == "" {
			prev.State = protocol.TaskPending
		}
		r.states[task.Name] = copyTaskState(prev)
		if prev.State == protocol.TaskDead {
			continue // finished before the agent restarted
		}
		tr := &taskRunner{
			r:        r,
			task:     task,
			state:    copyTaskState(prev),
			driver:   r.cfg.Drivers[task.Driver],
			known:    knownDrivers,
			isNew:    newAlloc,
			setupErr: setupErr,
			killCh:   make(chan struct{}),
			startCh:  make(chan struct{}),
			runDone:  make(chan struct{}),

			checkRestart: make(chan checkRestartReq, 1),
			opActions:    make(chan protocol.AllocAction, protocol.MaxAllocActions),
			tracker:      restartTracker{policy: taskRestartPolicy(r.alloc, task)},
			log:          r.log.With("task", task.Name),
		}
		if h, ok := r.cfg.Handles[task.Name]; ok {
			tr.saved = &h
		}
		r.runners[task.Name] = tr
		live++
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr.run(ctx)
			exited <- task.Name
		}()
	}
	defer wg.Wait()
	defer r.stopHealth()
	r.emit(ctx)
	r.coordinate()
	stopCh := r.stopCh
	for live > 0 {
		select {
		case tu := <-r.taskCh:
			r.states[tu.name] = tu.state
			switch {
			case tu.state.State == protocol.TaskRunning && r.regs[tu.name] == nil:
				r.register(ctx, r.task(tu.name))
			case tu.state.State != protocol.TaskRunning:
				r.deregister(tu.name)
			}
			r.emit(ctx) // recorded before a task that waited on this one starts
			r.coordinate()
		case h := <-r.healthCh:
			if r.applyHealth(h) {
				r.emit(ctx)
			}
		case <-r.dh.timerC:
			if r.healthDue() { // deployhealth.go
				r.emit(ctx)
			}
		case <-r.dh.pokeCh():
			if r.takeDeployment() {
				r.emit(ctx)
			}
		case ac := <-r.actCh:
			r.dispatchAction(ctx, ac) // actions.go
		case name := <-exited:
			live--
			delete(r.runners, name)
		case <-stopCh:
			stopCh = nil
			r.stopping = true
			r.coordinate()
		case <-ctx.Done():
			return
		}
	}
}

func (r *Runner) task(name string) *protocol.Task {
	for i := range r.alloc.Tasks {
		if r.alloc.Tasks[i].Name == name {
			return &r.alloc.Tasks[i]
		}
	}
	panic("BUG: update from unknown task " + name)
}

// coordinate applies the lifecycle plan for the tasks' current states
// (lifecycle.go): kills first, so a task both killed and let start does
// not start.
func (r *Runner) coordinate() {
	p := planLifecycle(r.alloc.Tasks, r.states, r.stopping)
	for name, reason := range p.kill {
		if tr := r.runners[name]; tr != nil {
			tr.kill(reason)
		}
	}
	for _, name := range p.start {
		if tr := r.runners[name]; tr != nil {
			tr.letStart()
		}
	}
}

// emit sends the allocation's current client state to the agent.
func (r *Runner) emit(ctx context.Context) {
	states := make(map[string]protocol.TaskState, len(r.states))
	for k, v := range r.states {
		states[k] = copyTaskState(v)
	}
	status, desc := ClientStatus(states)
	u := Update{AllocID: r.alloc.ID, Client: protocol.AllocUpdate{
		AllocID:      r.alloc.ID,
		ClientStatus: status,
		Description:  desc,
		TaskStates:   states,
		Time:         r.cfg.Now().UnixMilli(),
		JobVersion:   r.alloc.JobVersion,
		Services:     r.services(),
		Health:       r.healthForUpdate(), // deployhealth.go
	}}
	select {
	case r.cfg.Updates <- u:
	case <-ctx.Done():
	}
}

// setupDirs creates the alloc dir: alloc/, alloc/logs/, and per task
// local/, secrets/ and tmp/.
func (r *Runner) setupDirs() error {
	base := r.AllocDir()
	dirs := []string{filepath.Join(base, "alloc", "logs"), filepath.Join(base, "alloc", "data"), filepath.Join(base, "alloc", "tmp")}
	for _, t := range r.alloc.Tasks {
		if t.Name == "" || t.Name == "alloc" || strings.ContainsAny(t.Name, `/\`) || t.Name == "." || t.Name == ".." {
			return fmt.Errorf("task name %q cannot be a directory name: rename the task", t.Name)
		}
		dirs = append(dirs, filepath.Join(base, t.Name, "local"), filepath.Join(base, t.Name, "tmp"))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, t := range r.alloc.Tasks {
		if err := os.MkdirAll(filepath.Join(base, t.Name, "secrets"), 0o700); err != nil {
			return fmt.Errorf("create secrets dir of %s: %w", t.Name, err)
		}
	}
	return nil
}

func (r *Runner) taskDirs(task *protocol.Task) taskenv.Dirs {
	base := r.AllocDir()
	taskDir := filepath.Join(base, task.Name)
	return taskenv.Dirs{
		AllocDir:   filepath.Join(base, "alloc"),
		LocalDir:   filepath.Join(taskDir, "local"),
		SecretsDir: filepath.Join(taskDir, "secrets"),
	}
}

// taskEnv is the task's environment (without env templates).
func (r *Runner) taskEnv(task *protocol.Task) *taskenv.Env {
	return taskenv.Build(r.alloc, task, r.cfg.Node, r.taskDirs(task), r.cfg.LookupEnv)
}

// taskConfig builds what the driver needs to start the task; extra (the
// env templates' variables) is added to its environment.
func (r *Runner) taskConfig(task *protocol.Task, extra map[string]string) *drivers.TaskConfig {
	base := r.AllocDir()
	taskDir := filepath.Join(base, task.Name)
	dirs := r.taskDirs(task)
	env := r.taskEnv(task)
	for k, v := range extra {
		env.Vars[k] = v
	}
	ports := make([]drivers.Port, 0, len(r.alloc.Ports))
	for _, p := range r.alloc.Ports {
		ports = append(ports, drivers.Port{Label: p.Label, Value: p.Value, To: p.To})
	}
	logs := filepath.Join(base, "alloc", "logs")
	stdout, stderr := filepath.Join(logs, task.Name+".stdout"), filepath.Join(logs, task.Name+".stderr")
	var policy logfile.Policy
	if l := task.Logs; l != nil {
		policy = logfile.Policy{MaxFiles: l.MaxFiles, MaxFileSize: int64(l.MaxFileSizeMB) << 20}
		if l.Disabled {
			stdout, stderr = "", ""
		}
	}
	return &drivers.TaskConfig{
		ID:         r.alloc.ID + "/" + task.Name,
		AllocID:    r.alloc.ID,
		TaskName:   task.Name,
		JobID:      r.alloc.JobID,
		AllocDir:   dirs.AllocDir,
		TaskDir:    taskDir,
		LocalDir:   dirs.LocalDir,
		SecretDir:  dirs.SecretsDir,
		StdoutPath: stdout,
		StderrPath: stderr,
		Logs:       policy,
		Env:        env.Vars,
		Config:     env.ReplaceConfig(task.Config),
		User:       task.User,
		CPU:        task.Resources.CPU,
		MemoryMB:   task.Resources.MemoryMB,
		Ports:      ports,
	}
}
