package cli

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestNodeDrainWaitsForAllocsToStop(t *testing.T) {
	c := newCluster(t)
	c.b.PutNode(&structs.Node{ID: "node-1234", Name: "pi", Status: structs.NodeReady, Eligible: true})
	c.b.PutAlloc(&structs.Allocation{ID: "alloc-1", NodeID: "node-1234", JobID: "web", Namespace: "default", ClientStatus: "running", DesiredStatus: "run"})
	out, errOut, wait := c.start("node", "drain", "-enable", "-yes", "node-12")
	waitFor(t, out, "drain strategy set", 1)
	if n := c.b.NodeByID("node-1234"); !n.Drain || n.Eligible {
		t.Fatalf("node drain=%v eligible=%v after drain -enable", n.Drain, n.Eligible)
	}
	// The scheduler stops the alloc; the agent reports it complete.
	c.b.UpdateAlloc("alloc-1", func(a *structs.Allocation) {
		a.DesiredStatus, a.DesiredDescription, a.ClientStatus = "stop", "alloc is being migrated", "complete"
	})
	if code := wait(t); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "All allocations on node \"node-1234\" have stopped") {
		t.Errorf("output:\n%s", out)
	}

	code, stdout, stderr := c.run(t, "node", "drain", "-disable", "node-1234")
	if code != 0 || !strings.Contains(stdout, "drain strategy unset") {
		t.Fatalf("disable: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := c.b.NodeByID("node-1234"); n.Drain || !n.Eligible {
		t.Errorf("node drain=%v eligible=%v after drain -disable", n.Drain, n.Eligible)
	}
}

func TestNodeDrainAndEligibilityUsage(t *testing.T) {
	c := newCluster(t)
	c.b.PutNode(&structs.Node{ID: "node-1234", Status: structs.NodeReady, Eligible: true})
	tests := []struct {
		args []string
		code int
		out  string // in stdout+stderr
	}{
		{[]string{"node", "drain", "node-1234"}, exitUsage, "exactly one of -enable or -disable"},
		{[]string{"node", "drain", "-enable", "-disable", "node-1234"}, exitUsage, "exactly one of -enable or -disable"},
		{[]string{"node", "drain", "-enable", "nope"}, 1, "not found"},
		{[]string{"node", "drain", "-enable", "-detach", "node-1234"}, 0, "drain strategy set"},
		{[]string{"node", "eligibility", "-enable", "node-1234"}, 1, "draining"},
		{[]string{"node", "drain", "-disable", "-keep-ineligible", "node-1234"}, 0, "unset"},
		{[]string{"node", "eligibility", "-enable", "node-1234"}, 0, "eligible for scheduling"},
		{[]string{"node", "eligibility", "-disable", "-json", "node-1234"}, 0, `"node_modify_index"`},
	}
	for _, tt := range tests {
		code, stdout, stderr := c.run(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.out) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s%s", tt.args, code, tt.code, tt.out, stdout, stderr)
		}
	}
	if n := c.b.NodeByID("node-1234"); n.Eligible || n.Drain {
		t.Errorf("final node eligible=%v drain=%v, want false false", n.Eligible, n.Drain)
	}
}

func TestAllocLogs(t *testing.T) {
	c := newCluster(t)
	job := &jobspec.Job{ID: "web", Namespace: "default", TaskGroups: []*jobspec.TaskGroup{{Name: "g", Tasks: []*jobspec.Task{{Name: "server"}}}}}
	c.b.PutAlloc(&structs.Allocation{ID: "alloc-1234", NodeID: "n1", JobID: "web", Namespace: "default", TaskGroup: "g", Job: job, ClientStatus: "running", DesiredStatus: "run"})
	c.b.Logs = map[string]string{
		apitest.LogsKey("alloc-1234", "server", false): "a\nb\nc\n",
		apitest.LogsKey("alloc-1234", "server", true):  "err\n",
	}
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"alloc", "logs", "alloc-12"}, 0, "a\nb\nc\n"},
		{[]string{"alloc", "logs", "alloc-1234", "server"}, 0, "a\nb\nc\n"},
		{[]string{"alloc", "logs", "-stderr", "alloc-1234"}, 0, "err\n"},
		{[]string{"alloc", "logs", "-tail", "-n", "1", "alloc-1234"}, 0, "c\n"},
		{[]string{"alloc", "logs", "alloc-1234", "other"}, 1, "no task \"other\""},
		{[]string{"alloc", "logs", "-n", "-3", "alloc-1234"}, exitUsage, "-n -3"},
	}
	for _, tt := range tests {
		code, stdout, stderr := c.run(t, tt.args...)
		got := stdout
		if tt.code != 0 {
			got = stderr
		}
		if code != tt.code || (tt.code == 0 && got != tt.out) || (tt.code != 0 && !strings.Contains(got, tt.out)) {
			t.Errorf("%v: exit %d, want %d with %q; stdout %q stderr %q", tt.args, code, tt.code, tt.out, stdout, stderr)
		}
	}
}
