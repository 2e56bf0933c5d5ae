package agent

import (
	"fmt"
	"strings"

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
	seen := make(map[string]bool, len(da.Tasks))
	for _, t := range da.Tasks {
		if !safeName(t.Name) || t.Name == "alloc" {
			return fmt.Errorf("allocation %s: task name %q cannot be a directory name", da.ID, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("allocation %s: task %q appears twice", da.ID, t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

func safeName(s string) bool {
	return protocol.ValidID(s) && s != "." && s != ".." && !strings.ContainsAny(s, `\`+"\x00")
}
