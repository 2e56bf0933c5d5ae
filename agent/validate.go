package agent

import (
	"fmt"
	"strings"

	"github.com/tether-edge/tether/agent/allocrunner"
	"github.com/tether-edge/tether/protocol"
)

// checkAlloc rejects an allocation the agent cannot run safely: its id and
// task names become directory names under the data dir, so they must not
// be able to escape it or collide.
func checkAlloc(da *protocol.DesiredAlloc) error {
	if !safeName(da.ID) {
		return fmt.Errorf("allocation id %q cannot be a directory name", da.ID)
	}
	switch da.DesiredStatus {
	case protocol.DesiredRun, protocol.DesiredStop:
	default:
		return fmt.Errorf("allocation %s: desired status %q is neither %q nor %q", da.ID, da.DesiredStatus, protocol.DesiredRun, protocol.DesiredStop)
	}
	if len(da.Payload) > protocol.MaxDispatchPayload {
		return fmt.Errorf("allocation %s: dispatch payload of %d bytes is over the limit of %d", da.ID, len(da.Payload), protocol.MaxDispatchPayload)
	}
	if err := checkHealthPolicy(da); err != nil { // deployhealth.go
		return err
	}
	if err := checkActions(da); err != nil { // actions.go
		return err
	}
	seen := make(map[string]bool, len(da.Tasks))
	mains := 0
	for _, t := range da.Tasks {
		if !safeName(t.Name) || t.Name == "alloc" {
			return fmt.Errorf("allocation %s: task name %q cannot be a directory name", da.ID, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("allocation %s: task %q appears twice", da.ID, t.Name)
		}
		seen[t.Name] = true
		if t.DispatchFile != "" && !allocrunner.PayloadPathOK(t.DispatchFile) {
			return fmt.Errorf("allocation %s: task %q: dispatch payload file %q is outside the task's local/ directory", da.ID, t.Name, t.DispatchFile)
		}
		switch t.Lifecycle {
		case "":
			mains++
		case allocrunner.HookPrestart, allocrunner.HookPoststart, allocrunner.HookPoststop:
		default:
			return fmt.Errorf("allocation %s: task %q has lifecycle hook %q, which this agent does not know (prestart, poststart, poststop): upgrade the agent", da.ID, t.Name, t.Lifecycle)
		}
	}
	if mains == 0 && len(da.Tasks) > 0 {
		return fmt.Errorf("allocation %s: every task is a lifecycle hook; a group needs at least one main task (one without a lifecycle block)", da.ID)
	}
	return nil
}

func safeName(s string) bool {
	return protocol.ValidID(s) && s != "." && s != ".." && !strings.ContainsAny(s, `\`+"\x00")
}
