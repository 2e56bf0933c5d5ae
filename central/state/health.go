package state

import (
	"strings"

	"github.com/tether-edge/tether/central/structs"
)

// MaxHealthReason bounds the reason an agent gives for an unhealthy
// allocation (longer ones are cut).
const MaxHealthReason = 512

// AllocHealthReport is an agent's decision on an allocation's health in a
// deployment.
type AllocHealthReport struct {
	DeploymentID string `json:"deployment_id"`
	Healthy      bool   `json:"healthy"`
	Time         int64  `json:"time"` // unix ns on the agent's clock
	Reason       string `json:"reason,omitempty"`
}

// applyHealth records h on c (a copy of the stored alloc) when it is news:
// the report is for the deployment c belongs to now (a report for an
// earlier deployment is stale) and c's health in it is not known yet (the
// agent reports once; a repeat, carried by a later update of the same
// alloc, changes nothing). The canary flag set at placement is kept.
func (a *applier) applyHealth(c *structs.Allocation, h *AllocHealthReport) {
	if !HealthIsNews(c, h) {
		return
	}
	ds := structs.AllocDeploymentStatus{}
	if c.DeploymentStatus != nil {
		ds = *c.DeploymentStatus
	}
	healthy := h.Healthy
	ds.Healthy, ds.Timestamp, ds.Reason = &healthy, h.Time, truncate(h.Reason, MaxHealthReason)
	if ds.Timestamp == 0 {
		ds.Timestamp = c.ModifyTime
	}
	c.DeploymentStatus = &ds
}

// HealthIsNews reports whether h would change the deployment health of
// alloc c: the leader asks it to decide whether an update needs an
// evaluation of the job.
func HealthIsNews(c *structs.Allocation, h *AllocHealthReport) bool {
	if c == nil || h == nil || h.DeploymentID == "" || h.DeploymentID != c.DeploymentID {
		return false
	}
	return c.DeploymentStatus == nil || c.DeploymentStatus.Healthy == nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
