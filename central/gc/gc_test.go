package gc

import (
	"slices"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// fake is a Source built from slices.
type fake struct {
	jobs     []*jobspec.Job
	versions map[string]int
	allocs   []*structs.Allocation
	evals    []*structs.Evaluation
	nodes    []*structs.Node
	tokens   []*state.JoinToken
	acls     []*acl.Token
}

func (f *fake) Jobs(string) []*jobspec.Job { return f.jobs }
func (f *fake) JobVersions(ns, id string) []*jobspec.Job {
	return make([]*jobspec.Job, f.versions[id])
}
func (f *fake) Allocs() []*structs.Allocation  { return f.allocs }
func (f *fake) Evals() []*structs.Evaluation   { return f.evals }
func (f *fake) Nodes() []*structs.Node         { return f.nodes }
func (f *fake) JoinTokens() []*state.JoinToken { return f.tokens }
func (f *fake) ACLTokens() []*acl.Token        { return f.acls }

var now = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)

// ago is a unix ns time d before now.
func ago(d time.Duration) int64 { return now.Add(-d).UnixNano() }

var th = Thresholds{Eval: time.Hour, BatchEval: 24 * time.Hour, Job: 4 * time.Hour, Node: 24 * time.Hour, JoinToken: time.Hour, ACLToken: time.Hour, KeepVersions: 6}

func job(id, typ, status string, stop bool, submitted time.Duration) *jobspec.Job {
	return &jobspec.Job{ID: id, Namespace: "default", Type: typ, Status: status, Stop: stop, SubmitTime: ago(submitted), ModifyIndex: 7}
}

func alloc(id, jobID, node, client string, modified time.Duration) *structs.Allocation {
	return &structs.Allocation{ID: id, Namespace: "default", JobID: jobID, NodeID: node, DesiredStatus: "run", ClientStatus: client, ModifyTime: ago(modified), ModifyIndex: 9}
}

func eval(id, jobID, typ, status string, modified time.Duration) *structs.Evaluation {
	return &structs.Evaluation{ID: id, Namespace: "default", JobID: jobID, Type: typ, Status: status, ModifyTime: ago(modified), ModifyIndex: 8}
}

func ids(refs []state.GCRef) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.ID)
	}
	slices.Sort(out)
	return out
}

func TestCompute(t *testing.T) {
	const h = time.Hour
	type want struct{ jobs, allocs, evals, nodes, tokens, acls, prune []string }
	cases := []struct {
		name  string
		src   *fake
		force bool
		want  want
	}{{
		name: "a running service job: finished allocs and evals past eval_gc_threshold go, younger ones and live ones stay",
		src: &fake{
			jobs:   []*jobspec.Job{job("web", "service", "running", false, 10*h)},
			allocs: []*structs.Allocation{alloc("old-failed", "web", "n1", "failed", 2*h), alloc("new-failed", "web", "n1", "failed", 30*time.Minute), alloc("running", "web", "n1", "running", 9*h), alloc("unknown", "web", "n1", "unknown", 9*h)},
			evals:  []*structs.Evaluation{eval("e-old", "web", "service", "complete", 2*h), eval("e-new", "web", "service", "complete", time.Minute), eval("e-blocked", "web", "service", "blocked", 9*h)},
		},
		want: want{allocs: []string{"old-failed"}, evals: []string{"e-old"}},
	}, {
		name: "forced: every finished alloc and eval of a live job, never a live one, never the job",
		src: &fake{
			jobs:   []*jobspec.Job{job("web", "service", "running", false, 10*h)},
			allocs: []*structs.Allocation{alloc("new-failed", "web", "n1", "failed", 0), alloc("running", "web", "n1", "running", 0), alloc("pending", "web", "n1", "pending", 0)},
			evals:  []*structs.Evaluation{eval("e-new", "web", "service", "complete", 0), eval("e-pending", "web", "service", "pending", 0)},
		},
		force: true,
		want:  want{allocs: []string{"new-failed"}, evals: []string{"e-new"}},
	}, {
		name: "a dead batch job: kept with its allocs until job_gc_threshold (the scheduler would run them again)",
		src: &fake{
			jobs:   []*jobspec.Job{job("b", "batch", "dead", false, 3*h)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 3*h)},
			evals:  []*structs.Evaluation{eval("eb", "b", "batch", "complete", 3*h)},
		},
		want: want{},
	}, {
		name: "a batch job's finished allocs stay past batch_eval_gc_threshold while the job does (a recent eval keeps it)",
		src: &fake{
			jobs:   []*jobspec.Job{job("b", "batch", "dead", false, 40*h)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 30*h)},
			evals:  []*structs.Evaluation{eval("old", "b", "batch", "complete", 30*h), eval("recent", "b", "batch", "complete", h)},
		},
		want: want{},
	}, {
		name: "a stopped batch job's finished allocs and evals go after batch_eval_gc_threshold",
		src: &fake{
			jobs:   []*jobspec.Job{job("b", "batch", "dead", true, 40*h)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 30*h)},
			evals:  []*structs.Evaluation{eval("old", "b", "batch", "complete", 30*h), eval("recent", "b", "batch", "complete", h)},
		},
		want: want{allocs: []string{"b1"}, evals: []string{"old"}},
	}, {
		name: "a dead batch job past job_gc_threshold goes, with its allocs and evals (not listed apart)",
		src: &fake{
			jobs:   []*jobspec.Job{job("b", "batch", "dead", false, 5*h)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 5*h)},
			evals:  []*structs.Evaluation{eval("eb", "b", "batch", "complete", 5*h)},
		},
		want: want{jobs: []string{"b"}},
	}, {
		name: "job_gc_threshold counts from the job's last activity, not its submission",
		src: &fake{
			jobs:   []*jobspec.Job{job("b", "batch", "dead", false, 50*h)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 3*h)},
		},
		want: want{},
	}, {
		name: "forced: a dead batch job goes at once; a running batch job's finished allocs stay",
		src: &fake{
			jobs: []*jobspec.Job{job("b", "batch", "dead", false, 0), job("r", "batch", "running", false, 0)},
			allocs: []*structs.Allocation{alloc("b1", "b", "n1", "complete", 0), alloc("r1", "r", "n1", "complete", 0),
				alloc("r2", "r", "n1", "running", 0)},
		},
		force: true,
		want:  want{jobs: []string{"b"}},
	}, {
		name: "service jobs go only once stopped and dead",
		src: &fake{
			jobs: []*jobspec.Job{job("dead-not-stopped", "service", "dead", false, 9*h), job("stopped", "service", "dead", true, 9*h),
				job("stopped-live", "service", "running", true, 9*h), job("sys", "system", "dead", true, 9*h)},
			allocs: []*structs.Allocation{alloc("l1", "stopped-live", "n1", "running", 9*h)},
		},
		want: want{jobs: []string{"stopped", "sys"}},
	}, {
		name: "a stopped job with an open evaluation stays",
		src: &fake{
			jobs:  []*jobspec.Job{job("s", "service", "dead", true, 9*h)},
			evals: []*structs.Evaluation{eval("e", "s", "service", "pending", 9*h)},
		},
		force: true,
		want:  want{},
	}, {
		name: "nodes: down past node_gc_threshold with nothing live",
		src: &fake{
			nodes: []*structs.Node{
				{ID: "down-old", Status: "down", StatusUpdatedAt: ago(25 * h)},
				{ID: "down-new", Status: "down", StatusUpdatedAt: ago(h)},
				{ID: "down-live", Status: "down", StatusUpdatedAt: ago(25 * h)},
				{ID: "disconnected", Status: "disconnected", StatusUpdatedAt: ago(99 * h)},
				{ID: "ready", Status: "ready", StatusUpdatedAt: ago(99 * h)},
			},
			jobs:   []*jobspec.Job{job("web", "service", "running", false, 30*h)},
			allocs: []*structs.Allocation{alloc("u", "web", "down-live", "unknown", 25*h), alloc("done", "web", "down-old", "lost", 25*h)},
		},
		want: want{nodes: []string{"down-old"}, allocs: []string{"done"}},
	}, {
		name: "join tokens: expired for join_token_gc_threshold",
		src: &fake{tokens: []*state.JoinToken{
			{Hash: "old", Expires: now.Add(-2 * h).UnixMilli()}, {Hash: "recent", Expires: now.Add(-time.Minute).UnixMilli()},
			{Hash: "valid", Expires: now.Add(h).UnixMilli()}, {Hash: "forever"},
		}},
		want: want{tokens: []string{"old"}},
	}, {
		name: "forced: every expired join token, no valid one",
		src: &fake{tokens: []*state.JoinToken{
			{Hash: "recent", Expires: now.Add(-time.Minute).UnixMilli()}, {Hash: "valid", Expires: now.Add(h).UnixMilli()}, {Hash: "forever"},
		}},
		force: true,
		want:  want{tokens: []string{"recent"}},
	}, {
		name: "ACL tokens: expired for acl_token_gc_threshold (forced: any expired)",
		src: &fake{acls: []*acl.Token{
			{AccessorID: "old", ExpireTime: ago(2 * h)}, {AccessorID: "recent", ExpireTime: ago(time.Minute)},
			{AccessorID: "valid", ExpireTime: now.Add(h).UnixNano()}, {AccessorID: "forever"},
		}},
		want: want{acls: []string{"old"}},
	}, {
		name: "versions over job_tracked_versions are pruned",
		src: &fake{
			jobs:     []*jobspec.Job{job("many", "service", "running", false, h), job("few", "service", "running", false, h)},
			versions: map[string]int{"many": 9, "few": 6},
		},
		want: want{prune: []string{"many"}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op := Compute(c.src, now, th, c.force)
			tokens := append([]string{}, op.JoinTokens...)
			slices.Sort(tokens)
			for _, x := range []struct {
				what      string
				got, want []string
			}{{"jobs", ids(op.Jobs), c.want.jobs}, {"allocs", ids(op.Allocs), c.want.allocs}, {"evals", ids(op.Evals), c.want.evals},
				{"nodes", ids(op.Nodes), c.want.nodes}, {"join tokens", tokens, c.want.tokens}, {"acl tokens", append([]string{}, op.ACLTokens...), c.want.acls},
				{"prune", ids(op.PruneVersions), c.want.prune}} {
				if x.want == nil {
					x.want = []string{}
				}
				if !slices.Equal(x.got, x.want) {
					t.Errorf("%s: got %v, want %v", x.what, x.got, x.want)
				}
			}
			if op.Now != now.UnixNano() || op.KeepVersions != 6 {
				t.Errorf("op carries now %d keep %d", op.Now, op.KeepVersions)
			}
		})
	}
}

func TestComputeCarriesModifyIndexes(t *testing.T) {
	src := &fake{
		jobs:   []*jobspec.Job{job("s", "service", "dead", true, 9*time.Hour)},
		allocs: []*structs.Allocation{alloc("a", "other", "n1", "failed", 9*time.Hour)},
	}
	op := Compute(src, now, th, false)
	if len(op.Jobs) != 1 || op.Jobs[0].ModifyIndex != 7 || op.Jobs[0].Namespace != "default" || len(op.Allocs) != 1 || op.Allocs[0].ModifyIndex != 9 {
		t.Fatalf("op %+v: want the job and alloc with the modify indexes seen", op)
	}
}

func TestSplit(t *testing.T) {
	op := &state.GC{Now: 5, KeepVersions: 3, Jobs: make([]state.GCRef, 3), Allocs: make([]state.GCRef, 4), JoinTokens: []string{"x"}}
	parts := Split(op, 3)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want 3", len(parts))
	}
	total := 0
	for _, p := range parts {
		n := len(p.Jobs) + len(p.Allocs) + len(p.JoinTokens)
		if n > 3 || p.Now != 5 || p.KeepVersions != 3 {
			t.Fatalf("part %+v", p)
		}
		total += n
	}
	if total != 8 || len(parts[0].Jobs) != 3 {
		t.Fatalf("parts hold %d refs (want 8), jobs first: %+v", total, parts[0])
	}
	if len(Split(&state.GC{}, 10)) != 0 || !Empty(&state.GC{Now: 1}) {
		t.Fatal("an empty op splits into nothing")
	}
}
