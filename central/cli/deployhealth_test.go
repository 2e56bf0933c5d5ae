package cli

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// alloc status shows the deployment that placed an allocation and its
// health as its agent reported it (why, when unhealthy), as Nomad's does.
func TestAllocStatusDeploymentHealth(t *testing.T) {
	c, evalID := seedCluster(t)
	a := newAlloc("cccc0003-aaaa", evalID, 2, "running")
	a.DeploymentID = "dddd0003-depl"
	a.DeploymentStatus = &structs.AllocDeploymentStatus{Canary: true}
	c.b.PutAlloc(a)
	code, out, _ := c.run(t, "alloc", "status", "cccc0003")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	wantKV(t, out, "Deployment ID", "dddd0003")
	wantKV(t, out, "Deployment Health", "unset")
	wantKV(t, out, "Canary", "true")

	no := false
	c.b.UpdateAlloc(a.ID, func(a *structs.Allocation) {
		a.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: &no, Reason: `task "t" failed`}
	})
	code, out, _ = c.run(t, "alloc", "status", "cccc0003")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	wantKV(t, out, "Deployment Health", "unhealthy")
	wantKV(t, out, "Deployment Health Reason", `task "t" failed`)
	if strings.Contains(out, "Canary") {
		t.Errorf("not a canary, but shows one:\n%s", out)
	}

	plain := newAlloc("cccc0004-aaaa", evalID, 2, "running")
	c.b.PutAlloc(plain)
	if code, out, _ = c.run(t, "alloc", "status", "cccc0004"); code != 0 || strings.Contains(out, "Deployment") {
		t.Errorf("an alloc outside deployments (exit %d) shows deployment lines:\n%s", code, out)
	}
}

// wantKV checks that out has a "key   = value" line (any alignment).
func wantKV(t *testing.T, out, key, value string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key && strings.TrimSpace(v) == value {
			return
		}
	}
	t.Errorf("no line %q = %q in:\n%s", key, value, out)
}
