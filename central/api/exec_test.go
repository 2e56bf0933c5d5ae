package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// An exec request is checked in full before the websocket upgrade: the
// token's alloc-exec, the origin of a browser's request (the token cookie
// must not let another site open a shell), the command, the task. The
// test backend runs no sessions: a request that passes every check gets
// its 501.
func TestExecCheckedBeforeUpgrade(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	mgmt := bootstrapped(t, base, b)
	host := strings.TrimPrefix(base, "http://")
	b.PutNode(&structs.Node{ID: "aaaa1111-0000-0000-0000-000000000001", Name: "pi-1", Datacenter: "dc1", Status: "ready"})
	sub, _ := json.Marshal(map[string]string{"hcl": webHCL})
	code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(string(sub)), "Content-Type: application/json\n"+api.TokenHeader+": "+mgmt)
	if code != 200 {
		t.Fatalf("submit: %d %s", code, body)
	}
	job := b.JobByID("default", "web")
	running := &structs.Allocation{ID: "bbbb0001-0000-0000-0000-000000000001", Namespace: "default", JobID: "web", TaskGroup: "web", Job: job,
		NodeID: "aaaa1111-0000-0000-0000-000000000001", DesiredStatus: "run", ClientStatus: "running",
		TaskStates: map[string]*structs.TaskState{"server": {State: "running"}}}
	pending := *running
	pending.ID, pending.ClientStatus, pending.TaskStates = "bbbb0002-0000-0000-0000-000000000002", "pending", nil
	wj, tg := *job, *job.TaskGroups[0]
	task := *tg.Tasks[0]
	task.Driver = "wasm"
	tg.Tasks = []*jobspec.Task{&task}
	wj.TaskGroups = []*jobspec.TaskGroup{&tg}
	wasm := *running
	wasm.ID, wasm.Job = "bbbb0003-0000-0000-0000-000000000003", &wj
	b.PutAlloc(running, &pending, &wasm)

	ws := "Connection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
	auth := api.TokenHeader + ": " + mgmt
	cookie := "Cookie: " + api.TokenCookie + "=" + mgmt
	cmd := "?command=" + url.QueryEscape(`["sh"]`)
	path := "/v1/client/allocation/bbbb0001/exec"
	for _, c := range []struct {
		name, path, headers string
		code                int
		want                string
	}{
		{"no token", path + cmd, ws, 403, "alloc-exec"},
		{"cookie from another site", path + cmd, ws + "\n" + cookie + "\nOrigin: http://evil.example", 403, "cross-origin"},
		{"cookie, cross-site fetch", path + cmd, ws + "\n" + cookie + "\nSec-Fetch-Site: cross-site", 403, "cross-origin"},
		{"no command", path, ws + "\n" + auth, 400, "JSON array"},
		{"command not JSON", path + "?command=sh", ws + "\n" + auth, 400, "JSON array"},
		{"unknown task", path + cmd + "&task=nope", ws + "\n" + auth, 404, "has no task"},
		{"wasm task", "/v1/client/allocation/bbbb0003/exec" + cmd, ws + "\n" + auth, 400, "wasm driver, which cannot run other commands"},
		{"task not running", "/v1/client/allocation/bbbb0002/exec" + cmd, ws + "\n" + auth, 409, "not running"},
		{"not a websocket", path + cmd, auth, 400, "websocket"},
		{"same origin, every check passed", path + cmd, ws + "\n" + cookie + "\nOrigin: http://" + host, 501, "cannot run exec sessions"},
		{"CLI, every check passed", path + cmd, ws + "\n" + auth, 501, "cannot run exec sessions"},
	} {
		code, body := send(t, base, "GET", c.path, nil, c.headers)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want %d with %q", c.name, code, body, c.code, c.want)
		}
	}
}
