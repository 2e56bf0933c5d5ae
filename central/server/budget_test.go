package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/desired"
	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// bigHello registers a node with room for far more than
// desired.MaxAllocsPerNode small allocations: only the budgets stop them.
func (a *wireAgent) bigHello() {
	a.publish(a.topics.Hello(a.id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: a.id, Name: "node-" + a.id, Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"},
		Resources:  protocol.Resources{CPU: 1_000_000, MemoryMB: 1_000_000},
	})
}

func waitReady(t *testing.T, s *Server, id string) {
	t.Helper()
	eventually(t, 10*time.Second, func() error {
		if n := s.store.NodeByID(id); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node %s not ready: %+v", id, n)
		}
		return nil
	})
}

// nsJob is a service job of count tiny allocations in namespace ns.
func nsJob(ns, id string, count int, env map[string]string) *jobspec.Job {
	j := testJob(count)
	j.ID, j.Name, j.Namespace = id, id, ns
	j.TaskGroups[0].Tasks[0].Resources = &jobspec.Resources{CPU: 10, MemoryMB: 10}
	j.TaskGroups[0].Tasks[0].Env = env
	return j
}

func waitEval(t *testing.T, s *Server, id string) *structs.Evaluation {
	t.Helper()
	var e *structs.Evaluation
	eventually(t, 30*time.Second, func() error {
		if e = s.store.EvalByID(id); e == nil || e.Status == structs.EvalPending {
			return fmt.Errorf("eval %s: %+v", id, e)
		}
		return nil
	})
	return e
}

func liveOn(s *Server, nodeID, ns string) int {
	n := 0
	for _, a := range s.store.AllocsByNode(nodeID) {
		if desired.Included(a) && (ns == "" || a.Namespace == ns) {
			n++
		}
	}
	return n
}

// TestSubmitRefusesJobTooLargeForAgent is the attack's first half: a job
// with a 1.2 MB env var would make its node's desired state too large to
// publish. It is refused at submit, through the HTTP API, with the limit
// and its size in the message, and nothing is registered.
func TestSubmitRefusesJobTooLargeForAgent(t *testing.T) {
	s := testServer(t, 10*time.Second)
	hcl := `job "big" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      env { BLOB = "` + strings.Repeat("x", 1_200_000) + `" }
    }
  }
}`
	body, _ := json.Marshal(map[string]string{"hcl": hcl})
	req, _ := http.NewRequest(http.MethodPost, s.HTTPURL()+"/v1/jobs?namespace=a", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("submit: %d %s, want 400", resp.StatusCode, raw)
	}
	var answer struct{ Error string }
	if err := json.Unmarshal(raw, &answer); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	msg := answer.Error
	for _, want := range []string{`group "g"`, "limit " + strconv.Itoa(desired.MaxAllocBytes) + " bytes per allocation", "1200"} {
		if !strings.Contains(msg, want) {
			t.Errorf("answer %s does not say %q", msg, want)
		}
	}
	if j := s.store.JobByID("a", "big"); j != nil {
		t.Errorf("the refused job was registered: %+v", j)
	}
}

// TestFullNodeStaysReachable is the attack's second half: one namespace
// fills a node with tiny allocations. The scheduler stops at
// desired.MaxAllocsPerNode; the node's desired state stays publishable;
// another namespace's job waits with the reason (no quota reserves room
// for it on that node) and is placed as soon as another node joins; and
// stopping the filler still reaches the node.
func TestFullNodeStaysReachable(t *testing.T) {
	s := testServer(t, 30*time.Second)
	n1 := newWireAgent(t, s, "n1")
	n1.bigHello()
	waitReady(t, s, "n1")

	ctx := context.Background()
	const extra = 6
	fillEval, _, err := s.SubmitJob(ctx, nsJob("a", "filler", desired.MaxAllocsPerNode+extra, nil))
	if err != nil {
		t.Fatal(err)
	}
	e := waitEval(t, s, fillEval)
	if f := e.FailedTGAllocs["g"]; f == nil || f.DimensionExhausted[scheduler.DimAllocs] == 0 || e.QueuedAllocations["g"] != extra {
		t.Fatalf("filler eval: queued %v, failed %+v; want %d queued for %q", e.QueuedAllocations, f, extra, scheduler.DimAllocs)
	}
	if got := liveOn(s, "n1", ""); got != desired.MaxAllocsPerNode {
		t.Fatalf("n1 holds %d allocations, want the cap %d", got, desired.MaxAllocsPerNode)
	}
	eventually(t, 20*time.Second, func() error {
		if d := n1.currentDesired(); d == nil || len(d.Allocs) != desired.MaxAllocsPerNode {
			return fmt.Errorf("n1's desired state has not arrived with %d allocations", desired.MaxAllocsPerNode)
		}
		return nil
	})

	victimEval, _, err := s.SubmitJob(ctx, nsJob("b", "victim", 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	e = waitEval(t, s, victimEval)
	if f := e.FailedTGAllocs["g"]; f == nil || f.DimensionExhausted[scheduler.DimAllocs] != 1 {
		t.Fatalf("victim eval: failed %+v, want one node exhausted on %q", f, scheduler.DimAllocs)
	}

	n2 := newWireAgent(t, s, "n2")
	n2.bigHello()
	eventually(t, 20*time.Second, func() error {
		if got := liveOn(s, "n2", "b"); got != 1 {
			return fmt.Errorf("victim has %d allocations on n2", got)
		}
		if d := n2.currentDesired(); d == nil || len(d.Allocs) != 1+extra {
			return fmt.Errorf("n2's desired state: %v", d)
		}
		return nil
	})

	if _, _, err := s.StopJob(ctx, "a", "filler", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if d := n1.currentDesired(); d == nil || len(d.Allocs) != 0 {
			return fmt.Errorf("n1 was not told to stop the filler")
		}
		return nil
	})
}

// TestNodeByteBudgetKeepsDesiredPublishable fills a node with allocations
// of 200 KB each (under the per-allocation limit): the scheduler places
// as many as the node's byte budget holds, and the desired state with
// all of them is published, signed and decodable.
func TestNodeByteBudgetKeepsDesiredPublishable(t *testing.T) {
	s := testServer(t, 30*time.Second)
	n1 := newWireAgent(t, s, "n1")
	n1.bigHello()
	waitReady(t, s, "n1")

	j := nsJob("a", "fat", 8, map[string]string{"BLOB": strings.Repeat("x", 200_000)})
	evalID, _, err := s.SubmitJob(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	e := waitEval(t, s, evalID)
	placed := liveOn(s, "n1", "a")
	if f := e.FailedTGAllocs["g"]; placed == 0 || f == nil || f.DimensionExhausted[scheduler.DimDesiredBytes] == 0 {
		t.Fatalf("placed %d, failure %+v; want some placed and the rest refused on %q", placed, f, scheduler.DimDesiredBytes)
	}
	eventually(t, 20*time.Second, func() error {
		if d := n1.currentDesired(); d == nil || len(d.Allocs) != placed {
			return fmt.Errorf("n1's desired state with %d allocations was not published", placed)
		}
		return nil
	})
	if refused := s.currentLeader().gw.RefusedPublishes(); refused != 0 {
		t.Errorf("the gateway refused %d desired states as too large", refused)
	}
}
