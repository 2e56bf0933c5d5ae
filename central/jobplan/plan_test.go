package jobplan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func plan(t *testing.T, c *cluster, job *jobspec.Job) *jobplan.Result {
	t.Helper()
	before := c.store.Index("")
	res, err := jobplan.Compute(c.store.Snapshot(), job, jobplan.Options{NewID: c.newID, Now: 3})
	if err != nil {
		t.Fatal(err)
	}
	if after := c.store.Index(""); after != before {
		t.Fatalf("a plan changed the state: index %d → %d", before, after)
	}
	return res
}

func actions(res *jobplan.Result) map[string]int {
	out := map[string]int{}
	for _, a := range res.Allocations {
		out[a.Action]++
	}
	return out
}

func TestPlanNewJobPlacesOnNamedNodes(t *testing.T) {
	c := newCluster(t, 3, nil)
	res := plan(t, c, webJob(2, "api", "db"))
	for _, g := range []string{"api", "db"} {
		if u := res.Annotations.DesiredTGUpdates[g]; u == nil || u.Place != 2 || u.Ignore+u.Stop+u.InPlaceUpdate+u.DestructiveUpdate != 0 {
			t.Errorf("group %s: %+v, want 2 placements", g, u)
		}
	}
	if len(res.Allocations) != 4 || !res.Changes() || res.JobModifyIndex != 0 {
		t.Fatalf("allocations %d changes %v index %d, want 4 placements, changes, index 0", len(res.Allocations), res.Changes(), res.JobModifyIndex)
	}
	for _, a := range res.Allocations {
		if a.Action != jobplan.ActionPlace || !strings.HasPrefix(a.NodeName, "pi-") || a.NodeID == "" {
			t.Errorf("planned alloc %+v: want a placement on a named node", a)
		}
	}
	if res.Diff.Type != jobplan.DiffAdded || len(res.Diff.TaskGroups) != 2 || res.Diff.TaskGroups[0].Type != jobplan.DiffAdded {
		t.Errorf("diff of a new job: %+v", res.Diff)
	}
	if c.store.JobByID("default", "web") != nil || len(c.store.Evals()) != 0 {
		t.Error("the plan registered the job or an evaluation")
	}
}

func TestPlanUnchangedJobChangesNothing(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.run(webJob(2, "api"))
	cur := c.store.JobByID("default", "web")
	res := plan(t, c, webJob(2, "api"))
	if res.Changes() || res.Annotations.DesiredTGUpdates["api"].Ignore != 2 {
		t.Errorf("unchanged job: %+v, want 2 ignored and no change", res.Annotations.DesiredTGUpdates["api"])
	}
	if res.Diff.Type != jobplan.DiffNone || res.JobModifyIndex != cur.JobModifyIndex {
		t.Errorf("diff %s index %d, want None and %d", res.Diff.Type, res.JobModifyIndex, cur.JobModifyIndex)
	}
}

func TestPlanInPlaceUpdate(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.run(webJob(2, "api"))
	res := plan(t, c, webJob(3, "api"))
	u := res.Annotations.DesiredTGUpdates["api"]
	if u.InPlaceUpdate != 2 || u.Place != 1 || u.DestructiveUpdate != 0 {
		t.Errorf("count 2 → 3: %+v, want 2 in-place updates and 1 placement", u)
	}
	if !res.Changes() {
		t.Error("count 2 → 3 places an allocation: a change")
	}
	g := res.Diff.TaskGroups[0]
	if res.Diff.Type != jobplan.DiffEdited || g.Type != jobplan.DiffEdited || len(g.Fields) != 1 ||
		*g.Fields[0] != (jobplan.FieldDiff{Type: jobplan.DiffEdited, Name: "count", Old: "2", New: "3"}) {
		t.Errorf("diff: %+v %+v", res.Diff, g.Fields)
	}
}

func TestPlanDestructiveUpdate(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.run(webJob(2, "api"))
	next := clone(webJob(2, "api"))
	next.TaskGroups[0].Tasks[0].Config["command"] = "/bin/web2"
	res := plan(t, c, next)
	if u := res.Annotations.DesiredTGUpdates["api"]; u.DestructiveUpdate != 2 || u.Place+u.Stop+u.InPlaceUpdate != 0 {
		t.Errorf("config change: %+v, want 2 destructive updates", u)
	}
	for _, a := range res.Allocations {
		if a.Action != jobplan.ActionDestructive || a.AllocID == "" || a.FromNodeName == "" || a.NodeName == "" {
			t.Errorf("planned alloc %+v: want a destructive update naming both nodes", a)
		}
	}
	task := res.Diff.TaskGroups[0].Tasks[0]
	if task.Type != jobplan.DiffEdited || len(task.Fields) != 1 || task.Fields[0].Name != "config[command]" ||
		task.Fields[0].Old != "/bin/web" || task.Fields[0].New != "/bin/web2" {
		t.Errorf("task diff: %+v", task)
	}
	if len(task.Annotations) != 1 || task.Annotations[0] != "forces create/destroy update" {
		t.Errorf("task annotations %v", task.Annotations)
	}
}

// A rollout (max_parallel 1) replaces one allocation at a time: the plan
// says so, and ignores the others, as Nomad's does.
func TestPlanRolloutGatesDestructiveUpdates(t *testing.T) {
	c := newCluster(t, 3, nil)
	j := webJob(3, "api")
	c.run(j)
	next := clone(j)
	next.TaskGroups[0].Update = &jobspec.UpdateStrategy{MaxParallel: 1, HealthCheck: "task_states"}
	next.TaskGroups[0].Tasks[0].Config["command"] = "/bin/web2"
	res := plan(t, c, next)
	if u := res.Annotations.DesiredTGUpdates["api"]; u.DestructiveUpdate != 1 || u.Ignore != 2 {
		t.Errorf("rollout: %+v, want 1 destructive update and 2 ignored", u)
	}
}

func TestPlanRemovedGroupStops(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.run(webJob(1, "api", "db"))
	res := plan(t, c, webJob(1, "api"))
	if u := res.Annotations.DesiredTGUpdates["db"]; u == nil || u.Stop != 1 {
		t.Fatalf("removed group: %+v, want 1 stop", u)
	}
	if a := actions(res); a[jobplan.ActionStop] != 1 {
		t.Errorf("actions %v", a)
	}
	if g := res.Diff.TaskGroups[1]; g.Name != "db" || g.Type != jobplan.DiffDeleted {
		t.Errorf("diff of the removed group: %+v", g)
	}
}

func TestPlanUnsatisfiableConstraint(t *testing.T) {
	c := newCluster(t, 4, nil)
	j := webJob(2, "api")
	j.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${attr.cpu.arch}", Operand: "=", RTarget: "amd64"}}
	res := plan(t, c, j)
	m := res.FailedTGAllocs["api"]
	if m == nil || m.ConstraintFiltered["${attr.cpu.arch} = amd64"] != 4 || res.QueuedAllocations["api"] != 2 {
		t.Fatalf("failures %+v queued %v, want the constraint filtering 4 nodes and 2 queued", m, res.QueuedAllocations)
	}
	if !res.Changes() {
		t.Error("a plan that fails to place reports no change")
	}

	other := webJob(1, "api")
	other.Datacenters = []string{"dc9"}
	res = plan(t, c, other)
	if m := res.FailedTGAllocs["api"]; m == nil || m.NodesEvaluated != 0 {
		t.Errorf("no node in the datacenter: %+v", m)
	}
}

func TestPlanWarnsOfUnresolvableServiceAddress(t *testing.T) {
	c := newCluster(t, 3, func(i int, nd *structs.Node) {
		if i == 0 {
			nd.Meta = map[string]string{"public_ip": "203.0.113.7"}
		}
	})
	j := webJob(3, "api")
	j.TaskGroups[0].Constraints = []*jobspec.Constraint{{Operand: "distinct_hosts", RTarget: "true"}}
	j.TaskGroups[0].Services = []*jobspec.Service{
		{Name: "public-api", PortLabel: "http", Address: "${attr.unique.platform.aws.public-ipv4}"},
		{Name: "node-ip", Address: "${attr.unique.network.ip-address}"},
		{Name: "meta-ip", Address: "${meta.public_ip}"},
	}
	res := plan(t, c, j)
	lines := strings.Split(res.Warnings, "\n")
	if len(lines) != 2 {
		t.Fatalf("warnings:\n%s\nwant two (the AWS attribute no node has, the meta key two of the three placements lack)", res.Warnings)
	}
	for _, want := range []string{`group "api" service "public-api"`, `attribute "unique.platform.aws.public-ipv4"`, "none of the 3 eligible nodes",
		`address = "${attr.unique.network.ip-address}"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("warning %q lacks %q", lines[0], want)
		}
	}
	for _, want := range []string{`meta key "public_ip"`, "2 of the 3 nodes this plan runs the group on lack (pi-1, pi-2)", `"${meta.public_ip}"  operator = "is_set"`} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("meta warning %q lacks %q", lines[1], want)
		}
	}

	// Kept on the node that has it, the group gets no warning for it.
	j.TaskGroups[0].Count = 1
	j.TaskGroups[0].Constraints = []*jobspec.Constraint{{LTarget: "${meta.public_ip}", Operand: "is_set"}}
	if res := plan(t, c, j); strings.Contains(res.Warnings, "public_ip") || !strings.Contains(res.Warnings, "public-ipv4") {
		t.Errorf("warnings with the group constrained to the node with the meta key:\n%s", res.Warnings)
	}
}

// Only in-place updates: no allocation is created or destroyed, so no
// change for the exit code (Nomad's rule), though the diff shows one.
func TestPlanInPlaceOnlyIsNoChange(t *testing.T) {
	c := newCluster(t, 3, nil)
	c.run(webJob(2, "api"))
	next := clone(webJob(2, "api"))
	next.TaskGroups[0].Reschedule = &jobspec.ReschedulePolicy{Attempts: 3, Interval: time.Hour, Delay: 30 * time.Second, DelayFunction: "constant"}
	res := plan(t, c, next)
	if u := res.Annotations.DesiredTGUpdates["api"]; u.InPlaceUpdate != 2 || res.Diff.Type != jobplan.DiffEdited || res.Changes() {
		t.Errorf("reschedule change: %+v diff %s changes %v, want 2 in-place updates, an edited diff, no change", u, res.Diff.Type, res.Changes())
	}
}
