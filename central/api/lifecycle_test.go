package api_test

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

func TestAllocRestartSignalRequests(t *testing.T) {
	b, srv := newTestServer(t)
	_, allocs := seed(t, b, srv)
	id := allocs[0].ID
	job := b.JobByID("default", "web")
	b.UpdateAlloc(id, func(a *structs.Allocation) { a.Job = job })
	// An agent that does not say it applies actions is refused first.
	r := do(t, srv, "POST", "/v1/client/allocation/"+id[:8]+"/restart", nil)
	if r.code != 409 || !strings.Contains(errorOf(t, r), "predates alloc restart") {
		t.Fatalf("restart on an old agent: %d %s", r.code, r.body)
	}
	n := b.NodeByID(allocs[0].NodeID)
	cp := *n
	cp.Attributes = map[string]string{protocol.AttrAllocActions: "1"}
	b.PutNode(&cp)

	r = do(t, srv, "POST", "/v1/client/allocation/"+id[:8]+"/restart", nil) // empty body, short ID
	if r.code != 200 {
		t.Fatalf("restart: %d %s", r.code, r.body)
	}
	if got := decode[api.ActionResponse](t, r); got.AllocID != id || got.Seq != 1 {
		t.Fatalf("restart answered %+v", got)
	}
	r = do(t, srv, "POST", "/v1/client/allocation/"+id+"/signal", map[string]string{"task": "server", "signal": "hup"})
	if got := decode[api.ActionResponse](t, r); r.code != 200 || got.Signal != "SIGHUP" || got.Seq != 2 || got.Task != "server" {
		t.Fatalf("signal: %d %s", r.code, r.body)
	}
	r = do(t, srv, "POST", "/v1/client/allocation/"+id+"/signal", nil)
	if got := decode[api.ActionResponse](t, r); r.code != 200 || got.Signal != api.DefaultSignal {
		t.Fatalf("signal without a name: %d %s", r.code, r.body)
	}
	if acts := b.AllocByID(id).Actions; len(acts) != 3 || acts[1].Kind != "signal" || acts[1].Task != "server" {
		t.Fatalf("recorded actions: %+v", acts)
	}

	for _, c := range []struct {
		path string
		body any
		code int
		want string
	}{
		{"/signal", map[string]string{"signal": "SIGFOO"}, 400, `unknown signal "SIGFOO"`},
		{"/signal", map[string]string{"task": "nope"}, 404, `no task "nope"`},
		{"/restart", map[string]string{"task": "server"}, 400, "unknown field"}, // restart's key is task_name, as Nomad's TaskName
		{"/restart", "{not json", 400, "request body"},
	} {
		r := do(t, srv, "POST", "/v1/client/allocation/"+id+c.path, c.body)
		if r.code != c.code || !strings.Contains(errorOf(t, r), c.want) {
			t.Errorf("%s %v: %d %s, want %d %q", c.path, c.body, r.code, r.body, c.code, c.want)
		}
	}

	// A task that is not running (as the agent last reported) is refused.
	b.UpdateAlloc(id, func(a *structs.Allocation) {
		a.TaskStates = map[string]*structs.TaskState{"server": {State: "pending"}}
	})
	r = do(t, srv, "POST", "/v1/client/allocation/"+id+"/restart", map[string]string{"task_name": "server"})
	if r.code != 409 || !strings.Contains(errorOf(t, r), `task "server" of allocation bbbb0001 is not running`) {
		t.Fatalf("restart of a pending task: %d %s", r.code, r.body)
	}
	b.UpdateAlloc(id, func(a *structs.Allocation) {
		a.TaskStates = map[string]*structs.TaskState{"server": {State: "running"}}
	})

	// A node that is not ready: the request would wait for it, refused.
	cp.Status = structs.NodeDisconnected
	b.PutNode(&cp)
	r = do(t, srv, "POST", "/v1/client/allocation/"+id+"/restart", nil)
	if r.code != 409 || !strings.Contains(errorOf(t, r), "is disconnected") || !strings.Contains(errorOf(t, r), "alloc stop") {
		t.Fatalf("restart on a disconnected node: %d %s", r.code, r.body)
	}
	// ... but stop works at central alone.
	r = do(t, srv, "POST", "/v1/allocation/"+id[:8]+"/stop", nil)
	if r.code != 200 || decode[api.StopResponse](t, r).EvalID == "" {
		t.Fatalf("stop: %d %s", r.code, r.body)
	}
	if a := b.AllocByID(id); a.DesiredStatus != "stop" {
		t.Fatalf("stopped allocation is %s", a.DesiredStatus)
	}
	r = do(t, srv, "POST", "/v1/allocation/"+id+"/stop", nil)
	if r.code != 409 || !strings.Contains(errorOf(t, r), "not running") {
		t.Fatalf("second stop: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "GET", "/v1/allocation/"+id+"/stop", nil); r.code != 405 {
		t.Fatalf("GET stop: %d", r.code)
	}
}

// A signal that would reach a wasm task is refused: the driver cannot
// deliver one.
func TestAllocSignalWasmRefused(t *testing.T) {
	b, srv := newTestServer(t)
	_, allocs := seed(t, b, srv)
	id := allocs[0].ID
	job := *b.JobByID("default", "web")
	tg := *job.TaskGroups[0]
	task := *tg.Tasks[0]
	task.Driver = "wasm"
	tg.Tasks = []*jobspec.Task{&task}
	job.TaskGroups = []*jobspec.TaskGroup{&tg}
	b.UpdateAlloc(id, func(a *structs.Allocation) { a.Job = &job })
	n := *b.NodeByID(allocs[0].NodeID)
	n.Attributes = map[string]string{protocol.AttrAllocActions: "1"}
	b.PutNode(&n)
	r := do(t, srv, "POST", "/v1/client/allocation/"+id+"/signal", map[string]string{"signal": "SIGHUP"})
	if r.code != 400 || !strings.Contains(errorOf(t, r), "wasm driver, which cannot deliver signals") || !strings.Contains(errorOf(t, r), "central alloc restart") {
		t.Fatalf("signal to a wasm task: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "POST", "/v1/client/allocation/"+id+"/restart", nil); r.code != 200 {
		t.Fatalf("restart of a wasm task: %d %s", r.code, r.body)
	}
}

// Restart, signal and stop need alloc-lifecycle: a token with read-job and
// submit-job (the tutorial's) is refused before its body is read.
func TestAllocLifecycleACL(t *testing.T) {
	b, srv, mgmt := aclServer(t)
	user := clientToken(t, srv, mgmt)
	id := b.Allocs()[0].ID
	big := map[string]string{"task_name": strings.Repeat("x", 64<<10)} // over the body limit: refused before it is read
	for _, p := range []string{"/v1/client/allocation/" + id + "/restart", "/v1/client/allocation/" + id + "/signal", "/v1/allocation/" + id + "/stop"} {
		r := doTok(t, srv, "POST", p, user, big)
		if r.code != 403 || !strings.Contains(errorOf(t, r), `capability "alloc-lifecycle"`) {
			t.Errorf("%s with a token lacking alloc-lifecycle: %d %s", p, r.code, r.body)
		}
		if r := doTok(t, srv, "POST", p, "", nil); r.code != 403 {
			t.Errorf("%s without a token: %d %s", p, r.code, r.body)
		}
	}
	if r := doTok(t, srv, "POST", "/v1/allocation/"+id[:8]+"/stop", mgmt, nil); r.code != 200 {
		t.Fatalf("stop with the management token: %d %s", r.code, r.body)
	}
}
