package cli

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/jobspec"
)

// runEnviron runs the CLI with getenv and the NOMAD_VAR_ environment
// environ.
func runEnviron(t *testing.T, getenv func(string) string, environ []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := run(args, &out, &errOut, getenv, func() []string { return environ })
	return code, out.String(), errOut.String()
}

func noEnv(string) string { return "" }

// job validate works without a cluster: exit 0 and Nomad's line, or exit 1
// and the errors at file:line.
func TestJobValidateLocal(t *testing.T) {
	good := writeFile(t, "web.hcl", webHCL)
	code, out, errOut := runEnviron(t, noEnv, nil, "job", "validate", good)
	if code != 0 || out != "Job validation successful\n" || errOut != "" {
		t.Fatalf("good file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	bad := writeFile(t, "web.hcl", strings.Replace(webHCL, `driver = "exec"`, `driver = "dockr"`, 1))
	code, out, errOut = runEnviron(t, noEnv, nil, "job", "validate", bad)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Job validation errors:\n"+bad+":6: ") {
		t.Fatalf("bad file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := runEnviron(t, noEnv, nil, "job", "validate", "/nonexistent/web.hcl"); code != 1 || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runEnviron(t, noEnv, nil, "job", "validate"); code != exitUsage {
		t.Fatalf("no file: exit %d", code)
	}
}

// checkingBackend is apitest's backend with central's own job checks.
type checkingBackend struct {
	*apitest.Backend
	mu     sync.Mutex // guards refuse
	refuse error
}

func (b *checkingBackend) CheckJob(*jobspec.Job) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.refuse
}

// With an address, job validate asks central too: its refusal is an exit
// 1 with central's reason; an unreachable central leaves the local verdict.
func TestJobValidateAsksCentral(t *testing.T) {
	b := &checkingBackend{Backend: apitest.New(), refuse: errors.New(`job "web": region "mars" is not this cluster's region "global"`)}
	var calls atomic.Int32
	h := api.New(b, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	getenv := func(k string) string {
		if k == "CENTRAL_ADDR" {
			return srv.URL
		}
		return ""
	}
	file := writeFile(t, "web.hcl", webHCL)
	code, _, errOut := runEnviron(t, getenv, nil, "job", "validate", file)
	if code != 1 || calls.Load() != 1 || !strings.Contains(errOut, `region "mars" is not this cluster's region`) {
		t.Fatalf("exit %d, %d calls, stderr %q: want central's refusal", code, calls.Load(), errOut)
	}
	b.mu.Lock()
	b.refuse = nil
	b.mu.Unlock()
	if code, out, errOut := runEnviron(t, getenv, nil, "job", "validate", file); code != 0 || calls.Load() != 2 || out != "Job validation successful\n" {
		t.Fatalf("exit %d, %d calls, stdout %q, stderr %q", code, calls.Load(), out, errOut)
	}
	// A local error never reaches central.
	bad := writeFile(t, "bad.hcl", "job \"web\" {\n")
	if code, _, _ := runEnviron(t, getenv, nil, "job", "validate", bad); code != 1 || calls.Load() != 2 {
		t.Fatalf("bad file: exit %d, %d calls", code, calls.Load())
	}
	// Nothing listens on a port just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	code, out, errOut := runEnviron(t, noEnv, nil, "job", "validate", "-address", closed, file)
	if code != 0 || out != "Job validation successful\n" || !strings.Contains(errOut, "could not be reached") {
		t.Fatalf("unreachable central: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// job inspect prints what job run takes back: resubmitted, it gives the
// same job, and -version prints a kept version.
func TestJobInspectRunRoundTrip(t *testing.T) {
	c := newCluster(t)
	hcl := strings.Replace(webHCL, "    count = 2\n", "    count = 2\n    meta {\n      team = \"edge\"\n    }\n", 1)
	if code, out, errOut := c.run(t, "job", "run", "-detach", writeFile(t, "web.hcl", hcl)); code != 0 {
		t.Fatalf("run: exit %d %s %s", code, out, errOut)
	}
	code, inspected, errOut := c.run(t, "job", "inspect", "web")
	if code != 0 || !strings.HasPrefix(inspected, "{\n  \"job\": {\n") {
		t.Fatalf("inspect: exit %d %s %s", code, inspected, errOut)
	}
	v0 := c.b.JobByID("default", "web")
	for _, name := range []string{"web.json", "web.job"} { // by extension, and by a leading {
		code, out, errOut := c.run(t, "job", "run", "-detach", writeFile(t, name, inspected))
		if code != 0 {
			t.Fatalf("run %s: exit %d %s %s", name, code, out, errOut)
		}
		if got := c.b.JobByID("default", "web"); !sameSpec(got, v0) {
			t.Fatalf("run %s gave another job:\n%+v\nwant\n%+v", name, got, v0)
		}
	}
	// A bare job object (without the "job" wrapper) is taken too.
	var wrapped struct{ Job json.RawMessage }
	if err := json.Unmarshal([]byte(inspected), &wrapped); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "bare.json", string(wrapped.Job))); code != 0 {
		t.Fatalf("bare job: exit %d %s", code, errOut)
	}
	code, out, _ := c.run(t, "job", "inspect", "-version", "0", "web")
	if code != 0 || !strings.Contains(out, `"version": 0`) {
		t.Fatalf("inspect -version 0: exit %d %s", code, out)
	}
	if code, _, errOut := c.run(t, "job", "inspect", "-version", "99", "web"); code != 1 || !strings.Contains(errOut, "no kept version 99") {
		t.Fatalf("inspect -version 99: exit %d %s", code, errOut)
	}
}

// sameSpec compares two versions of a job without what central sets.
func sameSpec(a, b *jobspec.Job) bool {
	ca, cb := *a, *b
	for _, c := range []*jobspec.Job{&ca, &cb} {
		c.Version, c.Status, c.SubmitTime, c.Stable = 0, "", 0, false
		c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	}
	ja, _ := json.Marshal(ca)
	jb, _ := json.Marshal(cb)
	return reflect.DeepEqual(ja, jb)
}

// Nomad's API JSON is refused before central is contacted, saying what
// to submit instead.
func TestJobRunRefusesNomadJSON(t *testing.T) {
	c := newCluster(t)
	for _, src := range []string{
		`{"Job": {"ID": "web", "TaskGroups": []}}`,
		`{"ID": "web", "Datacenters": ["dc1"], "TaskGroups": []}`,
		`{"job": {"ID": "web"}}`,
	} {
		code, _, errOut := c.run(t, "job", "run", writeFile(t, "web.json", src))
		if code != 1 || !strings.Contains(errOut, "looks like Nomad's API JSON") || !strings.Contains(errOut, "submit the HCL job file") {
			t.Errorf("%s: exit %d, stderr %q", src, code, errOut)
		}
	}
	code, _, errOut := c.run(t, "job", "run", "-var", "a=1", writeFile(t, "web.json", `{"job": {"id": "web"}}`))
	if code != exitUsage || !strings.Contains(errOut, "-var and -var-file apply to HCL job files") {
		t.Errorf("-var with JSON: exit %d, stderr %q", code, errOut)
	}
	if c.b.JobByID("default", "web") != nil || c.lastToken() != "" {
		t.Fatal("a refused file reached central")
	}
}
