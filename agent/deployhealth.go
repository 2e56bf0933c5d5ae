package agent

import (
	"fmt"

	"github.com/tether-edge/tether/protocol"
)

// maxHealthWaitMs bounds a health policy's durations (a year): a value
// past it is not one central sends.
const maxHealthWaitMs = 366 * 24 * 3600 * 1000

// checkHealthPolicy rejects a deployment health policy the agent cannot
// honour: an unknown mode, or negative or absurd durations.
func checkHealthPolicy(da *protocol.DesiredAlloc) error {
	p := da.Health
	if p == nil {
		return nil
	}
	switch p.Mode {
	case protocol.HealthChecks, protocol.HealthTaskStates, protocol.HealthManual:
	default:
		return fmt.Errorf("allocation %s: unknown health check mode %q (known: %s, %s, %s)", da.ID, p.Mode,
			protocol.HealthChecks, protocol.HealthTaskStates, protocol.HealthManual)
	}
	if p.MinHealthyMs < 0 || p.MinHealthyMs > maxHealthWaitMs || p.DeadlineMs < 0 || p.DeadlineMs > maxHealthWaitMs {
		return fmt.Errorf("allocation %s: health policy durations out of range (min_healthy_time %d ms, healthy_deadline %d ms)", da.ID, p.MinHealthyMs, p.DeadlineMs)
	}
	if da.DeploymentID == "" {
		return fmt.Errorf("allocation %s: a health policy without a deployment id", da.ID)
	}
	return nil
}
