package allocrunner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/protocol"
)

// An operator's restart starts the task again in the same allocation and
// does not count against the restart policy (attempts = 0, mode fail
// would otherwise fail it); a signal reaches the running task; an action
// for another task is not applied to this one.
func TestOperatorActions(t *testing.T) {
	drv := fake.New()
	alloc := oneTask("a1", "service", nil, protocol.RestartPolicy{Attempts: 0, Mode: "fail", IntervalMs: 60000})
	h := startRunner(t, alloc, drv, newMemStore(), nil, nil)
	h.waitStatus(protocol.AllocRunning)

	h.runner.Act(protocol.AllocAction{Seq: 1, Kind: protocol.ActionSignal, Task: "other", Signal: "SIGHUP"})
	h.runner.Act(protocol.AllocAction{Seq: 2, Kind: protocol.ActionSignal, Signal: "SIGHUP"})
	eventually(t, 5*time.Second, func() error {
		ts := h.last().TaskStates["t"]
		for _, ev := range ts.Events {
			if ev.Type == eventSignaling && strings.Contains(ev.Message, "request 2)") {
				return nil
			}
		}
		return fmt.Errorf("no Signaling event for request 2: %v", eventTypes(ts))
	})
	if sigs := drv.Task("a1/t").Signals(); !slices.Equal(sigs, []string{"SIGHUP"}) {
		t.Fatalf("signals delivered: %v (the action for task \"other\" must not reach \"t\")", sigs)
	}

	h.runner.Act(protocol.AllocAction{Seq: 3, Kind: protocol.ActionRestart})
	eventually(t, 5*time.Second, func() error {
		ts := h.last().TaskStates["t"]
		if drv.Starts("a1/t") != 2 || ts.State != protocol.TaskRunning || ts.Restarts != 1 || ts.Failed {
			return fmt.Errorf("starts %d, state %+v", drv.Starts("a1/t"), ts)
		}
		return nil
	})
	evs := eventTypes(h.last().TaskStates["t"])
	if i := slices.Index(evs, protocol.EventRestartSignal); i < 0 || !slices.Contains(evs[i:], protocol.EventRestarting) || slices.Contains(evs, protocol.EventNotRestarting) {
		t.Fatalf("events after an operator restart: %v", evs)
	}
	if st := h.last().ClientStatus; st != protocol.AllocRunning {
		t.Fatalf("allocation is %s after an operator restart", st)
	}
}
