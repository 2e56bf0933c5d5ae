package cli

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// eventually polls f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

type testCluster struct {
	b   *apitest.Backend
	srv *httptest.Server

	mu    sync.Mutex // guards token
	token string     // last X-Tether-Token seen
}

func newCluster(t *testing.T) *testCluster {
	t.Helper()
	c := &testCluster{b: apitest.New()}
	h := api.New(c.b, nil)
	// Served as central serves it (timeouts, connection limit, same-origin
	// and content-type checks), so the CLI's requests pass those too.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, hln := api.NewHTTPServer(ln, api.PreAuthorize(c.b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.token = r.Header.Get(TokenHeader)
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})), api.HTTPLimits{})
	c.srv = &httptest.Server{Listener: hln, Config: hs}
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	return c
}

func (c *testCluster) lastToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// env returns a getenv that points the CLI at this cluster.
func (c *testCluster) env(extra ...string) func(string) string {
	m := map[string]string{"CENTRAL_ADDR": c.srv.URL}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return func(k string) string { return m[k] }
}

// run runs the CLI to completion.
func (c *testCluster) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	code := Run(args, &out, &errOut, c.env())
	return code, out.String(), errOut.String()
}

// start runs the CLI in the background; wait returns its exit code.
func (c *testCluster) start(args ...string) (out *syncBuffer, errOut *syncBuffer, wait func(t *testing.T) int) {
	out, errOut = &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(args, out, errOut, c.env()) }()
	return out, errOut, func(t *testing.T) int {
		t.Helper()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatalf("CLI did not return; stdout:\n%s\nstderr:\n%s", out, errOut)
			return -1
		}
	}
}

func waitFor(t *testing.T, buf *syncBuffer, substr string, n int) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if got := strings.Count(buf.String(), substr); got < n {
			return fmt.Errorf("output has %d of %d %q:\n%s", got, n, substr, buf)
		}
		return nil
	})
}

var stampRE = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)`)

// unstamp replaces timestamps with T.
func unstamp(s string) string { return stampRE.ReplaceAllString(s, "T") }

const webHCL = `job "web" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`

// webNoRolloutHCL is webHCL with update { max_parallel = 0 }: replaced all
// at once, without a deployment (webHCL, a service job, gets Nomad's
// default update strategy), so job submit follows its allocations.
var webNoRolloutHCL = strings.Replace(webHCL, "    count = 2\n", "    count = 2\n    update {\n      max_parallel = 0\n    }\n", 1)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	node1  = "aaaa1111-0000-4000-8000-000000000001"
	alloc1 = "bbbb0001-0000-4000-8000-000000000001"
	alloc2 = "bbbb0002-0000-4000-8000-000000000002"
)

func (c *testCluster) putNode() {
	c.b.PutNode(&structs.Node{ID: node1, Name: "pi-1", Datacenter: "dc1", Status: "ready", Eligible: true,
		Drivers: []string{"exec", "wasm"}, Attributes: map[string]string{"cpu.arch": "arm64", "os.name": "linux"},
		Resources: structs.Resources{CPU: 4000, MemoryMB: 1024}})
}

func newAlloc(id, evalID string, index int, status string) *structs.Allocation {
	return &structs.Allocation{ID: id, Namespace: "default", EvalID: evalID, JobID: "web", TaskGroup: "web",
		Name: fmt.Sprintf("web.web[%d]", index), Index: index, NodeID: node1, NodeName: "pi-1",
		DesiredStatus: "run", ClientStatus: status, Score: 0.75, CreateTime: time.Now().UnixNano(),
		TaskStates: map[string]*structs.TaskState{"server": {State: "running", Events: []structs.TaskEvent{
			{Type: "Received", Time: 1_000_000_000, Message: "Task received by client"},
			{Type: "Started", Time: 2_000_000_000, Message: "Task started by client"},
		}}}}
}

// lastEval returns the ID of the newest evaluation of job web.
func (c *testCluster) lastEval(t *testing.T) string {
	t.Helper()
	evs := c.b.EvalsByJob("default", "web")
	if len(evs) == 0 {
		t.Fatal("no evaluation for job web")
	}
	return evs[len(evs)-1].ID
}
