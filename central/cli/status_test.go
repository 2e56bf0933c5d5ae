package cli

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

type jobspecJob = jobspec.Job

// seedCluster submits job web and places two allocations on node1.
func seedCluster(t *testing.T) (*testCluster, string) {
	t.Helper()
	c := newCluster(t)
	c.putNode()
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL)); code != 0 {
		t.Fatal(errOut)
	}
	evalID := c.lastEval(t)
	a2 := newAlloc(alloc2, evalID, 1, "pending")
	a2.Events = []structs.AllocEvent{{Type: "Reconnected", Time: 3_000_000_000, Message: "kept: higher score"}}
	c.b.PutAlloc(newAlloc(alloc1, evalID, 0, "running"), a2)
	return c, evalID
}

func assertLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestJobStatus(t *testing.T) {
	c, _ := seedCluster(t)
	code, out, _ := c.run(t, "job", "status")
	if code != 0 || !strings.HasPrefix(out, "ID   Type     Priority  Status   Submit Date\nweb  service  50        running  ") {
		t.Errorf("job list: exit %d\n%s", code, out)
	}
	code, out, _ = c.run(t, "status", "w")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out,
		"ID          = web\n",
		"Type        = service\n",
		"Datacenters = dc1\n",
		"Namespace   = default\n",
		"Status      = running\n",
		"Version     = 0\n",
		"\nSummary\nTask Group  Queued  Pending  Running  Failed  Complete  Lost  Unknown\nweb         0       1        1        0       0         0     0\n",
		"\nAllocations\nID        Node ID   Task Group  Version  Desired  Status   Created\n",
		"bbbb0001  aaaa1111  web         0        run      running  ",
	)
	code, _, errOut := c.run(t, "job", "status", "nope")
	if code != 1 || !strings.Contains(errOut, `No job(s) with prefix or id "nope" found`) {
		t.Errorf("unknown job: %d %q", code, errOut)
	}
}

func TestJobStatusEmpty(t *testing.T) {
	c := newCluster(t)
	if code, out, _ := c.run(t, "job", "status"); code != 0 || out != "No running jobs\n" {
		t.Errorf("exit %d: %q", code, out)
	}
}

func TestJobHistory(t *testing.T) {
	c, _ := seedCluster(t)
	c.run(t, "job", "submit", "-detach", writeFile(t, "web.hcl", webHCL))
	code, out, _ := c.run(t, "job", "history", "web")
	if code != 0 || !strings.HasPrefix(out, "Version     = 1\nStable      = false\nStop        = false\n") || !strings.Contains(out, "\n\nVersion     = 0\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestNodeStatus(t *testing.T) {
	c, _ := seedCluster(t)
	code, out, _ := c.run(t, "node", "status")
	if code != 0 || out != "ID        DC   Name  Drivers    Version    Status\naaaa1111  dc1  pi-1  exec,wasm  <unknown>  ready\n" {
		t.Errorf("exit %d:\n%q", code, out)
	}
	code, out, _ = c.run(t, "node", "status", "aaaa")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out,
		"ID             = aaaa1111\n",
		"Status         = ready\n",
		"Eligibility    = eligible\n",
		"Drivers        = exec,wasm\n",
		"Resources      = cpu 4000 MHz, memory 1024 MB\n",
		"\nAttributes\ncpu.arch = arm64\nos.name  = linux\n",
		"\nAllocations\nID        Job ID  Task Group  Version  Desired  Status   Created\n",
	)
	code, _, errOut := c.run(t, "node", "status", "ffff")
	if code != 1 || !strings.Contains(errOut, `Error querying node: node "ffff" not found (HTTP 404)`) {
		t.Errorf("unknown node: %d %q", code, errOut)
	}
}

func TestAllocStatus(t *testing.T) {
	c, evalID := seedCluster(t)
	code, out, _ := c.run(t, "alloc", "status", "bbbb0002")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out,
		"ID                  = bbbb0002\n",
		"Eval ID             = "+evalID[:8]+"\n",
		"Name                = web.web[1]\n",
		"Node ID             = aaaa1111\n",
		"Job ID              = web\n",
		"Client Status       = pending\n",
		"Desired Status      = run\n",
		"Score               = 0.750\n",
		"Allocation Events:\nTime",
		"Reconnected  kept: higher score",
		"\nTask \"server\" is \"running\"\nRecent Events:\n",
	)
	// Newest event first.
	if i, k := strings.Index(out, "Started"), strings.Index(out, "Received"); i < 0 || k < i {
		t.Errorf("events not newest first:\n%s", out)
	}
	code, out, _ = c.run(t, "alloc", "status", "-verbose", "bbbb0002")
	if code != 0 || !strings.Contains(out, "ID                  = "+alloc2+"\n") {
		t.Errorf("-verbose: exit %d\n%s", code, out)
	}
	code, _, errOut := c.run(t, "alloc", "status", "bbbb")
	if code != 1 || !strings.Contains(errOut, alloc1) || !strings.Contains(errOut, alloc2) {
		t.Errorf("ambiguous prefix: %d %q", code, errOut)
	}
}

func TestEvalStatus(t *testing.T) {
	c, evalID := seedCluster(t)
	c.b.UpdateEval(evalID, func(e *structs.Evaluation) {
		e.Status = "complete"
		e.FailedTGAllocs = map[string]*structs.AllocMetric{"web": {NodesEvaluated: 1, NodesExhausted: 1}}
	})
	code, out, _ := c.run(t, "eval", "status", evalID)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	assertLines(t, out,
		"Status             = complete\n",
		"TriggeredBy        = job-register\n",
		"Job ID             = web\n",
		"Placement Failures = true\n",
		"==> Failed Placements\nTask Group \"web\" (failed to place 1 allocation):\n  * Resources exhausted on 1 nodes\n",
	)
}

func TestServerMembersAndPeers(t *testing.T) {
	c := newCluster(t)
	code, out, _ := c.run(t, "server", "members")
	if code != 0 || out != "Name      Address         Status  Leader  Raft Version\nserver-1  127.0.0.1:7600  alive   true    -\n" {
		t.Errorf("members: exit %d\n%q", code, out)
	}
	code, out, _ = c.run(t, "operator", "raft", "list-peers")
	if code != 0 || out != "Node      Address         State   Voter\nserver-1  127.0.0.1:7600  leader  true\n" {
		t.Errorf("list-peers: exit %d\n%q", code, out)
	}
}
