package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func TestSubmitMonitorsUntilRunning(t *testing.T) {
	c := newCluster(t)
	c.putNode()
	file := writeFile(t, "web.hcl", webNoRolloutHCL)
	out, errOut, wait := c.start("job", "submit", file)

	waitFor(t, out, "Evaluation triggered by job", 1)
	evalID := c.lastEval(t)
	c.b.PutAlloc(newAlloc(alloc1, evalID, 0, "pending"), newAlloc(alloc2, evalID, 1, "pending"))
	waitFor(t, out, "created: node", 2)
	c.b.UpdateEval(evalID, func(e *structs.Evaluation) {
		e.Status, e.PlacedAllocs = "complete", []string{alloc1, alloc2}
	})
	waitFor(t, out, "Evaluation status changed", 1)
	c.b.UpdateAlloc(alloc1, func(a *structs.Allocation) { a.ClientStatus = "running" })
	waitFor(t, out, "status changed: \"pending\" -> \"running\"", 1)
	if strings.Contains(out.String(), "finished") {
		t.Fatalf("finished with one alloc still pending:\n%s", out)
	}
	c.b.UpdateAlloc(alloc2, func(a *structs.Allocation) { a.ClientStatus = "running" })

	if code := wait(t); code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	short := evalID[:8]
	want := `==> T: Monitoring evaluation "` + short + `"
    T: Evaluation triggered by job "web"
    T: Allocation "bbbb0001" created: node "aaaa1111", group "web"
    T: Allocation "bbbb0002" created: node "aaaa1111", group "web"
    T: Evaluation status changed: "pending" -> "complete"
    T: Allocation "bbbb0001" status changed: "pending" -> "running"
    T: Allocation "bbbb0002" status changed: "pending" -> "running"
==> T: Evaluation "` + short + `" finished with status "complete"
`
	if got := unstamp(out.String()); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestSubmitPlacementFailureExits2(t *testing.T) {
	c := newCluster(t)
	c.b.OnSubmit = func(_ *jobspecJob, ev *structs.Evaluation) {
		c.b.UpdateEval(ev.ID, func(e *structs.Evaluation) {
			e.Status = "complete"
			e.QueuedAllocations = map[string]int{"web": 2}
			e.FailedTGAllocs = map[string]*structs.AllocMetric{
				"web": {NodesEvaluated: 3, NodesFiltered: 3, ConstraintFiltered: map[string]int{"${attr.cpu.arch} = arm": 3},
					NodesExhausted: 1, DimensionExhausted: map[string]int{"memory": 1}},
				"db": {},
			}
		})
	}
	code, out, _ := c.run(t, "job", "run", writeFile(t, "web.hcl", webHCL))
	if code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, out)
	}
	want := `but failed to place all allocations:
    Task Group "db" (failed to place 1 allocation):
      * No nodes were eligible for evaluation
    Task Group "web" (failed to place 2 allocations):
      * Constraint "${attr.cpu.arch} = arm" filtered 3 nodes
      * Resources exhausted on 1 nodes
      * Dimension "memory" exhausted on 1 nodes
`
	if !strings.HasSuffix(out, want) {
		t.Errorf("output:\n%s\nwant suffix:\n%s", out, want)
	}
}

func TestSubmitEvalFailedExits1(t *testing.T) {
	c := newCluster(t)
	c.b.OnSubmit = func(_ *jobspecJob, ev *structs.Evaluation) {
		c.b.UpdateEval(ev.ID, func(e *structs.Evaluation) { e.Status, e.StatusDescription = "failed", "too many retries" })
	}
	code, out, _ := c.run(t, "job", "submit", writeFile(t, "web.hcl", webHCL))
	if code != 1 || !strings.Contains(out, `finished with status "failed": too many retries`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestSubmitTimeout(t *testing.T) {
	c := newCluster(t)
	code, _, errOut := c.run(t, "job", "submit", "-timeout", "200ms", writeFile(t, "web.hcl", webHCL))
	if code != 1 || !strings.Contains(errOut, "timed out after 200ms") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestSubmitDetach(t *testing.T) {
	c := newCluster(t)
	code, out, _ := c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL))
	if code != 0 || out != "Job registration successful\nEvaluation ID: "+c.lastEval(t)+"\n" {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestSubmitVariables(t *testing.T) {
	c := newCluster(t)
	hcl := "variable \"count\" {\n  type = number\n  default = 1\n}\n" + strings.Replace(webHCL, "count = 2", "count = var.count", 1)
	code, out, errOut := c.run(t, "job", "submit", "-detach", "-var", "count=3", writeFile(t, "web.hcl", hcl))
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	if n := c.b.JobByID("default", "web").TaskGroups[0].Count; n != 3 {
		t.Errorf("count = %d, want 3 from -var", n)
	}
}

func TestSubmitFileErrors(t *testing.T) {
	c := newCluster(t)
	bad := writeFile(t, "web.hcl", "job \"web\" {\n  group \"web\" {\n    count = \n  }\n}\n")
	code, _, errOut := c.run(t, "job", "submit", bad)
	if code != 1 || !strings.Contains(errOut, "Error parsing job file:\n") || !strings.Contains(errOut, bad+":3:") {
		t.Errorf("exit %d, stderr %q: want the file:line of the error", code, errOut)
	}
	code, _, errOut = c.run(t, "job", "submit", "/nonexistent/web.hcl")
	if code != 1 || !strings.Contains(errOut, "Error reading job file: open /nonexistent/web.hcl") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = c.run(t, "job", "submit")
	if code != exitUsage || !strings.Contains(errOut, "takes [options] FILE") {
		t.Errorf("no file: exit %d, stderr %q", code, errOut)
	}
}

func TestJobStopMonitorsUntilStopped(t *testing.T) {
	c := newCluster(t)
	c.putNode()
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL)); code != 0 {
		t.Fatal(errOut)
	}
	c.b.PutAlloc(newAlloc(alloc1, c.lastEval(t), 0, "running"))
	out, errOut, wait := c.start("job", "stop", "we") // prefix
	waitFor(t, out, "Evaluation triggered by job", 1)
	stopEval := c.lastEval(t)
	c.b.UpdateEval(stopEval, func(e *structs.Evaluation) { e.Status = "complete" })
	waitFor(t, out, "Evaluation status changed", 1)
	c.b.UpdateAlloc(alloc1, func(a *structs.Allocation) { a.DesiredStatus, a.ClientStatus = "stop", "complete" })
	if code := wait(t); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !c.b.JobByID("default", "web").Stop {
		t.Error("job not stopped")
	}
	if !strings.Contains(out.String(), `Allocation "bbbb0001" status changed: "running" -> "complete"`) {
		t.Errorf("output:\n%s", out)
	}
	code, _, errOut2 := c.run(t, "job", "stop", "-detach", "nope")
	if code != 1 || !strings.Contains(errOut2, `No job(s) with prefix or id "nope" found`) {
		t.Errorf("stop unknown: %d %q", code, errOut2)
	}
}

// TestJSONIsTheEndpointBody checks that -json prints the API body as is.
func TestJSONIsTheEndpointBody(t *testing.T) {
	c := newCluster(t)
	c.putNode()
	c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL))
	evalID := c.lastEval(t)
	c.b.PutAlloc(newAlloc(alloc1, evalID, 0, "running"))
	tests := []struct {
		args []string
		path string
	}{
		{[]string{"job", "status", "-json"}, "/v1/jobs"},
		{[]string{"status", "-json"}, "/v1/jobs"},
		{[]string{"job", "status", "-json", "web"}, "/v1/job/web"},
		{[]string{"job", "history", "-json", "web"}, "/v1/job/web/versions"},
		{[]string{"node", "status", "-json"}, "/v1/nodes"},
		{[]string{"node", "status", "-json", "aaaa"}, "/v1/node/aaaa"},
		{[]string{"alloc", "status", "-json", "bbbb0001"}, "/v1/allocation/bbbb0001"},
		{[]string{"eval", "status", "-json", evalID}, "/v1/evaluation/" + evalID},
		{[]string{"server", "members", "-json"}, "/v1/agent/members"},
		{[]string{"operator", "raft", "list-peers", "-json"}, "/v1/agent/members"},
	}
	for _, tc := range tests {
		code, out, errOut := c.run(t, tc.args...)
		resp, err := http.Get(c.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if code != 0 || out != string(body) {
			t.Errorf("%v: exit %d (%s)\n got: %s\nwant: %s", tc.args, code, errOut, out, body)
		}
	}
}

func TestAddressAndToken(t *testing.T) {
	c := newCluster(t)
	hostPort := strings.TrimPrefix(c.srv.URL, "http://")
	var out, errOut syncBuffer
	env := func(k string) string {
		return map[string]string{"CENTRAL_ADDR": hostPort, "CENTRAL_TOKEN": "secret-1"}[k]
	}
	if code := Run([]string{"job", "status"}, &out, &errOut, env); code != 0 {
		t.Fatalf("CENTRAL_ADDR without scheme: exit %d: %s", code, errOut.String())
	}
	if got := c.lastToken(); got != "secret-1" {
		t.Errorf("token header %q, want CENTRAL_TOKEN", got)
	}
	// Flags win over the environment.
	code := Run([]string{"job", "status", "-address", c.srv.URL + "/", "-token", "secret-2"}, &out, &errOut,
		func(k string) string { return map[string]string{"CENTRAL_ADDR": "127.0.0.1:1"}[k] })
	if code != 0 || c.lastToken() != "secret-2" {
		t.Errorf("flags: exit %d token %q", code, c.lastToken())
	}
}

func TestConnectionRefused(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.URL
	dead.Close()
	var out, errOut syncBuffer
	code := Run([]string{"job", "status"}, &out, &errOut, func(k string) string {
		if k == "CENTRAL_ADDR" {
			return addr
		}
		return ""
	})
	want := `Error querying jobs: Get "` + addr + `/v1/jobs": dial tcp`
	if code != 1 || !strings.HasPrefix(errOut.String(), want) || !strings.Contains(errOut.String(), "connection refused") {
		t.Errorf("exit %d, stderr %q, want prefix %q", code, errOut.String(), want)
	}
}

func TestUsage(t *testing.T) {
	c := newCluster(t)
	tests := []struct {
		args []string
		code int
		in   string // which stream must contain want
		want string
	}{
		{[]string{"frobnicate"}, exitUsage, "stderr", "Unknown command \"frobnicate\""},
		{[]string{}, exitUsage, "stderr", "job submit"},
		{[]string{"job"}, exitUsage, "stderr", "Subcommands:"},
		{[]string{"job", "submit", "-h"}, 0, "stderr", "-detach"},
		{[]string{"alloc", "status", "-h"}, 0, "stderr", "-json"},
		{[]string{"node", "drain", "x"}, exitUsage, "stderr", "exactly one of -enable or -disable"},
		{[]string{"alloc", "logs", "x"}, 1, "stderr", "allocation \"x\" not found"},
		{[]string{"job", "status", "-bogus"}, exitUsage, "stderr", "flag provided but not defined"},
	}
	for _, tc := range tests {
		code, out, errOut := c.run(t, tc.args...)
		s := map[string]string{"stdout": out, "stderr": errOut}[tc.in]
		if code != tc.code || !strings.Contains(s, tc.want) {
			t.Errorf("%v: exit %d, %s %q; want exit %d and %q", tc.args, code, tc.in, s, tc.code, tc.want)
		}
	}
}
