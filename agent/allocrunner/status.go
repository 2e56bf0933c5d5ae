package allocrunner

import "github.com/tether-edge/tether/protocol"

// MaxEvents is how many events a task state keeps (newest last).
const MaxEvents = 10

// ClientStatus computes an allocation's client status from its tasks,
// in Nomad's order: failed, running, pending, complete.
func ClientStatus(tasks map[string]protocol.TaskState) (status, description string) {
	var failed, running, pending bool
	for _, ts := range tasks {
		switch {
		case ts.State == protocol.TaskDead && ts.Failed:
			failed = true
		case ts.State == protocol.TaskRunning:
			running = true
		case ts.State != protocol.TaskDead:
			pending = true
		}
	}
	switch {
	case failed:
		return protocol.AllocFailed, "Failed tasks"
	case running:
		return protocol.AllocRunning, "Tasks are running"
	case pending:
		return protocol.AllocPending, "No tasks have started"
	}
	return protocol.AllocComplete, "All tasks have completed"
}

// Terminal reports whether a client status is final.
func Terminal(status string) bool {
	switch status {
	case protocol.AllocComplete, protocol.AllocFailed, protocol.AllocLost:
		return true
	}
	return false
}

func copyTaskState(ts protocol.TaskState) protocol.TaskState {
	ts.Events = append([]protocol.TaskEvent(nil), ts.Events...)
	return ts
}

func addEvent(ts *protocol.TaskState, ev protocol.TaskEvent) {
	ts.Events = append(ts.Events, ev)
	if n := len(ts.Events); n > MaxEvents {
		ts.Events = append([]protocol.TaskEvent(nil), ts.Events[n-MaxEvents:]...)
	}
}
