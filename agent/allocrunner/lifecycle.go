package allocrunner

import "github.com/tether-edge/tether/protocol"

// Lifecycle hooks of a task (protocol.Task.Lifecycle); "" is a main task.
const (
	HookPrestart  = "prestart"
	HookPoststart = "poststart"
	HookPoststop  = "poststop"
)

// lifecyclePlan is what the coordinator decides from the tasks' states:
// the tasks that may start now (their gate opens) and the tasks to kill,
// with the event type to record first ("" none). Both are idempotent: the
// Runner applies the same plan again after every change.
type lifecyclePlan struct {
	start []string
	kill  map[string]string
}

// planLifecycle is the lifecycle coordinator, in Nomad's order. It is pure:
// the tasks, their current states and whether the allocation is being
// stopped in, a plan out.
//
//	prestart   starts at once
//	main       once every ephemeral prestart has exited 0 and every
//	           prestart sidecar runs
//	poststart  once every main task has started
//	poststop   once every other task is dead (also on a stop)
//
// A failed task kills every task but the poststop ones (Sibling Task
// Failed); so does a dead leader (Leader Task Dead). Once the main tasks
// and ephemeral hooks are dead, sidecars are killed, and a task that never
// got to start is killed rather than left waiting. A stop kills the leader
// first, then the main tasks and ephemeral hooks, then the sidecars; the
// poststop tasks then run.
func planLifecycle(tasks []protocol.Task, states map[string]protocol.TaskState, stopping bool) lifecyclePlan {
	p := lifecyclePlan{kill: map[string]string{}}
	dead := func(n string) bool { return states[n].State == protocol.TaskDead }
	started := func(n string) bool { return states[n].State == protocol.TaskRunning || states[n].StartedAt != 0 }

	var failed, leaderDead, leaderLive bool
	mainStarted, mainDead := true, true
	prestartDone := true
	othersDead := true // every task but the poststop ones
	workDead := true   // main tasks and ephemeral hooks (not sidecars, not poststop)
	for _, t := range tasks {
		st := states[t.Name]
		if st.State == protocol.TaskDead && st.Failed {
			failed = true
		}
		if t.Leader && t.Lifecycle != HookPoststop {
			if dead(t.Name) {
				leaderDead = true
			} else {
				leaderLive = true
			}
		}
		switch t.Lifecycle {
		case "":
			mainStarted = mainStarted && started(t.Name)
			mainDead = mainDead && dead(t.Name)
		case HookPrestart:
			if t.Sidecar {
				prestartDone = prestartDone && st.State == protocol.TaskRunning
			} else {
				prestartDone = prestartDone && dead(t.Name) && !st.Failed
			}
		}
		if t.Lifecycle != HookPoststop {
			othersDead = othersDead && dead(t.Name)
			if !t.Sidecar {
				workDead = workDead && dead(t.Name)
			}
		}
	}

	for _, t := range tasks {
		var open bool
		switch t.Lifecycle {
		case HookPrestart:
			open = true
		case "":
			open = prestartDone
		case HookPoststart:
			open = mainStarted
		case HookPoststop:
			open = othersDead
		}
		if open {
			p.start = append(p.start, t.Name)
		}
	}

	killAll := func(reason string) {
		for _, t := range tasks {
			if t.Lifecycle != HookPoststop && !dead(t.Name) {
				if _, ok := p.kill[t.Name]; !ok {
					p.kill[t.Name] = reason
				}
			}
		}
	}
	switch {
	case failed:
		killAll(protocol.EventSiblingFailed)
	case leaderDead && !stopping:
		killAll(protocol.EventLeaderDead)
	case stopping:
		for _, t := range tasks {
			if t.Leader && t.Lifecycle != HookPoststop && !dead(t.Name) {
				p.kill[t.Name] = ""
			}
		}
		if !leaderLive {
			for _, t := range tasks {
				if t.Lifecycle != HookPoststop && !t.Sidecar && !dead(t.Name) {
					p.kill[t.Name] = ""
				}
			}
		}
	}
	if workDead {
		for _, t := range tasks {
			if t.Sidecar && t.Lifecycle != HookPoststop && !dead(t.Name) {
				if _, ok := p.kill[t.Name]; !ok {
					p.kill[t.Name] = ""
				}
			}
		}
	}
	if mainDead { // a hook whose turn never came will not get it now
		opened := map[string]bool{}
		for _, n := range p.start {
			opened[n] = true
		}
		for _, t := range tasks {
			if t.Lifecycle != HookPoststop && !opened[t.Name] && !started(t.Name) && !dead(t.Name) {
				if _, ok := p.kill[t.Name]; !ok {
					p.kill[t.Name] = ""
				}
			}
		}
	}
	return p
}

// ephemeralHook reports whether t is a hook task that runs once: it is not
// restarted after it exits 0 (Nomad: only prestart and poststart sidecars
// are; a poststop task never is).
func ephemeralHook(t *protocol.Task) bool {
	switch t.Lifecycle {
	case "":
		return false
	case HookPrestart, HookPoststart:
		return !t.Sidecar
	}
	return true
}
