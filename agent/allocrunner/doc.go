// Package allocrunner owns running one allocation on the node: its
// directories, one task runner per task (start through a driver, wait,
// apply the restart policy, stop), and the allocation's client status
// computed from its tasks' states.
//
// Each Runner is one goroutine that owns the task states; each task runner
// is one goroutine that owns its task's handle. Task runners report every
// change to their Runner, which reports the allocation's new client state to
// the agent on the Updates channel:
//
//	r := allocrunner.New(cfg)        // cfg.Prev and cfg.Handles set after an agent restart
//	go r.Run(ctx)                    // ctx cancelled = detach: tasks keep running
//	for u := range updates { ... }   // pending → running → complete | failed
//	r.Stop()                         // desired stop: kill the tasks (KillSignal, KillTimeout)
//	<-r.Done()
//
// A task with templates renders them (agent/template) before it starts;
// a template that does not parse or render fails it. While it runs, a
// service change that changes a file applies the template's change_mode
// (restart, not counted against the restart policy; signal; noop).
//
// While a task runs, its services are registered: the Runner keeps their
// instances (address, host port, tags) and health (agent/health, one
// goroutine per check, stopped with the task) and sends the full set in
// every update; they are dropped when the task stops or restarts.
//
// Lifecycle hooks (lifecycle.go) are decided by one pure function of the
// tasks' states, asked again after every change: which waiting tasks may
// start (prestart at once; main once the ephemeral prestart tasks exited 0
// and the prestart sidecars run; poststart once main has started; poststop
// once everything else is dead) and which to kill (all on a failure or a
// dead leader, sidecars once the work is done, in order on a stop). A task
// runner waits for its turn before its first start; a re-attached task had
// it, and a task recorded dead before an agent restart is not run again.
//
// An allocation placed by a deployment (DesiredAlloc.Health) has its
// health decided once by agent/health's Tracker, fed from the Runner's
// loop (deployhealth.go); the verdict rides on every later update. A check
// with check_restart that keeps failing restarts its task through the
// restart policy (checkrestart.go).
//
// Statuses follow Nomad: an allocation is failed if any task failed, else
// running if any task runs, else pending if any task waits to (re)start,
// else complete.
package allocrunner
