package cli

import "github.com/tether-edge/tether/central/structs"

// deploymentPairs are the deployment lines of `alloc status`, as Nomad's:
// the deployment that placed the allocation, its health in it as the
// agent reported it (and why, when unhealthy), and whether it is a canary.
func (e *env) deploymentPairs(a *structs.Allocation) [][2]string {
	if a.DeploymentID == "" {
		return nil
	}
	health := "unset"
	ds := a.DeploymentStatus
	if ds != nil && ds.Healthy != nil {
		health = "unhealthy"
		if *ds.Healthy {
			health = "healthy"
		}
	}
	out := [][2]string{{"Deployment ID", e.short(a.DeploymentID)}, {"Deployment Health", health}}
	if ds != nil && ds.Healthy != nil && !*ds.Healthy && ds.Reason != "" {
		out = append(out, [2]string{"Deployment Health Reason", ds.Reason})
	}
	if ds != nil && ds.Canary {
		out = append(out, [2]string{"Canary", "true"})
	}
	return out
}
