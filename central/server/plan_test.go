package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// planHCL is a service job of one group "api" (no rollout) with a service
// at address; extra is added to the group.
func planHCL(count int, command, address, extra string) string {
	svc := ""
	if address != "" {
		svc = fmt.Sprintf("service {\n name = \"api\"\n port = \"http\"\n address = %q\n }\n network {\n port \"http\" {}\n }\n", address)
	}
	return fmt.Sprintf(`job "web" {
  datacenters = ["dc1"]
  update {
    max_parallel = 0
  }
  group "api" {
    count = %d
    %s
    %s
    task "server" {
      driver = "exec"
      config {
        command = %q
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, count, svc, extra, command)
}

// planAgent registers a wire agent with a network address attribute.
func planAgent(t *testing.T, s *Server, id string) *wireAgent {
	a := newWireAgent(t, s, id)
	a.publish(a.topics.Hello(id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: id, Name: "node-" + id, Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux", "unique.network.ip-address": "10.0.0." + id[1:]},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
	})
	waitReady(t, s, id)
	return a
}

func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// planOf posts a job file to /v1/job/web/plan and checks that nothing
// was written: no job version, no evaluation, no Raft entry.
func planOf(t *testing.T, s *Server, hcl string) *jobplan.Result {
	t.Helper()
	before, evals := s.raft.LastIndex(), len(s.store.Evals())
	code, body := postJSON(t, s.HTTPURL()+"/v1/job/web/plan", map[string]any{"hcl": hcl, "filename": "web.hcl"})
	if code != http.StatusOK {
		t.Fatalf("plan: HTTP %d %s", code, body)
	}
	var res jobplan.Result
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if after := s.raft.LastIndex(); after != before || len(s.store.Evals()) != evals {
		t.Fatalf("the plan wrote: raft index %d → %d, evaluations %d → %d", before, after, evals, len(s.store.Evals()))
	}
	return &res
}

func submitHCL(t *testing.T, s *Server, hcl, query string) (int, api.SubmitResponse) {
	t.Helper()
	code, body := postJSON(t, s.HTTPURL()+"/v1/jobs"+query, map[string]any{"hcl": hcl, "filename": "web.hcl"})
	var resp api.SubmitResponse
	if code == http.StatusOK {
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
	} else {
		resp.Warnings = string(body)
	}
	return code, resp
}

// docs/api.md "Plan a job": POST /v1/job/<id>/plan through a real server.
func TestPlanEndpoint(t *testing.T) {
	s := testServer(t, time.Minute)
	planAgent(t, s, "n1")
	planAgent(t, s, "n2")

	// A new job: two placements on named nodes, nothing written.
	res := planOf(t, s, planHCL(2, "/bin/v0", "", ""))
	if u := res.Annotations.DesiredTGUpdates["api"]; u == nil || u.Place != 2 || res.JobModifyIndex != 0 || res.Diff.Type != jobplan.DiffAdded {
		t.Fatalf("new job: %+v index %d diff %+v", u, res.JobModifyIndex, res.Diff)
	}
	for _, a := range res.Allocations {
		if a.NodeName != "node-n1" && a.NodeName != "node-n2" {
			t.Errorf("placement on %q, want a node's name", a.NodeName)
		}
	}
	if s.store.JobByID("default", "web") != nil {
		t.Fatal("the plan registered the job")
	}

	// -check-index 0: only while the job does not exist.
	if code, resp := submitHCL(t, s, planHCL(2, "/bin/v0", "", ""), "?check_index=0"); code != http.StatusOK {
		t.Fatalf("submit with check_index=0 of a new job: %d %s", code, resp.Warnings)
	}
	cur := s.store.JobByID("default", "web")
	if code, resp := submitHCL(t, s, planHCL(3, "/bin/v0", "", ""), "?check_index=0"); code != http.StatusConflict || !strings.Contains(resp.Warnings, "already exists") {
		t.Fatalf("submit with check_index=0 of an existing job: %d %s, want 409", code, resp.Warnings)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.AllocsByJob("default", "web")); n != 2 {
			return fmt.Errorf("%d allocations, want 2", n)
		}
		return nil
	})

	// The same file again: no change, and the index to check.
	res = planOf(t, s, planHCL(2, "/bin/v0", "", ""))
	if res.Changes() || res.Diff.Type != jobplan.DiffNone || res.JobModifyIndex != cur.JobModifyIndex {
		t.Errorf("unchanged job: %+v diff %s index %d, want no change and index %d", res.Annotations.DesiredTGUpdates["api"], res.Diff.Type, res.JobModifyIndex, cur.JobModifyIndex)
	}

	// In place: count only.
	res = planOf(t, s, planHCL(3, "/bin/v0", "", ""))
	if u := res.Annotations.DesiredTGUpdates["api"]; u.InPlaceUpdate != 2 || u.Place != 1 {
		t.Errorf("count 2 → 3: %+v, want 2 in-place updates and 1 placement", u)
	}

	// Destructive: the task's command.
	res = planOf(t, s, planHCL(2, "/bin/v1", "", ""))
	if u := res.Annotations.DesiredTGUpdates["api"]; u.DestructiveUpdate != 2 {
		t.Errorf("new command: %+v, want 2 destructive updates", u)
	}
	if f := res.Diff.TaskGroups[0].Tasks[0].Fields; len(f) != 1 || f[0].Name != "config[command]" || f[0].New != "/bin/v1" {
		t.Errorf("task diff: %+v", res.Diff.TaskGroups[0].Tasks[0])
	}

	// A constraint no node meets: why, per group.
	res = planOf(t, s, planHCL(2, "/bin/v0", "", "constraint {\n attribute = \"${attr.cpu.arch}\"\n value = \"amd64\"\n }"))
	if m := res.FailedTGAllocs["api"]; m == nil || m.ConstraintFiltered["${attr.cpu.arch} = amd64"] != 2 {
		t.Errorf("unsatisfiable constraint: %+v", res.FailedTGAllocs)
	}

	// A service address no node resolves: a warning naming the attribute
	// and what the nodes have, from plan and from submit.
	aws := planHCL(2, "/bin/v0", "${attr.unique.platform.aws.public-ipv4}", "")
	res = planOf(t, s, aws)
	for _, want := range []string{`"unique.platform.aws.public-ipv4"`, "none of the 2 eligible nodes", "attr.unique.network.ip-address"} {
		if !strings.Contains(res.Warnings, want) {
			t.Errorf("plan warnings %q lack %q", res.Warnings, want)
		}
	}
	if code, resp := submitHCL(t, s, aws, ""); code != http.StatusOK || !strings.Contains(resp.Warnings, "unique.platform.aws.public-ipv4") {
		t.Errorf("submit: %d, warnings %q lack the address", code, resp.Warnings)
	}

	// The file's job must be the URL's; a stale check index is refused.
	if code, body := postJSON(t, s.HTTPURL()+"/v1/job/other/plan", map[string]any{"hcl": aws}); code != http.StatusBadRequest || !strings.Contains(string(body), `/v1/job/web/plan`) {
		t.Errorf("plan of web at /v1/job/other/plan: %d %s", code, body)
	}
	if code, resp := submitHCL(t, s, planHCL(4, "/bin/v0", "", ""), fmt.Sprintf("?check_index=%d", cur.JobModifyIndex)); code != http.StatusConflict || !strings.Contains(resp.Warnings, "changed since it was read") {
		t.Errorf("submit with a stale check_index: %d %s, want 409", code, resp.Warnings)
	} else {
		t.Logf("stale check_index: %s", resp.Warnings)
	}
}

// docs/cli.md "job plan": exit 0 without changes (or in-place updates
// only), 1 when allocations are created or destroyed or fail to place,
// 255 on error; -check-index from the plan works with job run.
func TestJobPlanExitCodes(t *testing.T) {
	s := testServer(t, time.Minute)
	planAgent(t, s, "n1")
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v0 := write("v0.hcl", planHCL(1, "/bin/v0", "${attr.unique.platform.aws.public-ipv4}", ""))
	plan := func(args ...string) (int, string, string) {
		t.Helper()
		out, errOut, done := runCLI(s, append([]string{"job", "plan"}, args...)...)
		return <-done, out.String(), errOut.String()
	}

	code, out, errOut := plan(v0)
	t.Logf("plan of a new job:\n%s", out)
	if code != 1 || !strings.Contains(out, `+ Job: "web"`) || !strings.Contains(out, `+ Task Group: "api" (1 create)`) ||
		!strings.Contains(out, "node-n1") || !strings.Contains(out, "central job run -check-index 0 "+v0) ||
		!strings.Contains(out, "unique.platform.aws.public-ipv4") {
		t.Fatalf("plan of a new job: exit %d, want 1 with the diff, the node, the check index and the address warning\n%s%s", code, out, errOut)
	}
	out2, errOut2, done := runCLI(s, "job", "run", "-detach", "-check-index", "0", v0)
	if code := <-done; code != 0 || !strings.Contains(out2.String(), "unique.platform.aws.public-ipv4") {
		t.Fatalf("job run -check-index 0: exit %d, want 0 with the address warning\n%s%s", code, out2, errOut2)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.AllocsByJob("default", "web")); n != 1 {
			return fmt.Errorf("%d allocations", n)
		}
		return nil
	})
	if code, out, errOut := plan(v0); code != 0 || !strings.Contains(out, `Task Group: "api" (1 ignore)`) {
		t.Errorf("plan of the running job: exit %d, want 0\n%s%s", code, out, errOut)
	}
	inPlace := write("inplace.hcl", planHCL(1, "/bin/v0", "${attr.unique.platform.aws.public-ipv4}",
		"reschedule {\n attempts = 3\n interval = \"1h\"\n delay = \"30s\"\n delay_function = \"constant\"\n unlimited = false\n }"))
	if code, out, errOut := plan(inPlace); code != 0 || !strings.Contains(out, "(1 in-place update)") || !strings.Contains(out, "reschedule {") {
		t.Errorf("plan of a reschedule change (in place only, nothing created or destroyed): exit %d, want 0 with the diff\n%s%s", code, out, errOut)
	}
	if code, out, errOut := plan("-json", v0); code != 0 || !strings.HasPrefix(out, `{"job_modify_index":`) {
		t.Errorf("plan -json: exit %d\n%s%s", code, out, errOut)
	}
	v1 := write("v1.hcl", planHCL(1, "/bin/v1", "", ""))
	_, outV1, _ := plan(v1)
	t.Logf("plan of a new command:\n%s", outV1)
	if code, out, errOut := plan("-diff=false", v1); code != 1 || strings.Contains(out, "Job:") || !strings.Contains(out, "create/destroy update  node-n1") {
		t.Errorf("plan -diff=false of a new command: exit %d, want 1 with no diff\n%s%s", code, out, errOut)
	}
	if code, out, errOut := plan(write("bad.hcl", "job \"web\" {\n  grup \"x\" {}\n}\n")); code != 255 {
		t.Errorf("plan of a broken file: exit %d, want 255\n%s%s", code, out, errOut)
	}
	if code, _, _ := plan("-nope", v1); code != 255 {
		t.Errorf("plan with an unknown flag: exit %d, want 255", code)
	}
	// A stale index: job run refuses, saying why.
	out2, errOut2, done = runCLI(s, "job", "run", "-detach", "-check-index", "1", v1)
	if code := <-done; code != 1 || !strings.Contains(errOut2.String(), "changed since it was read") {
		t.Errorf("job run with a stale -check-index: exit %d\n%s%s", code, out2, errOut2)
	}
}

// A plan sent to a follower is answered (forwarded to the leader, as
// Nomad forwards its plans), with the leader's job modify index, and
// registers nothing. (TestPlanEndpoint checks that no Raft entry at all is
// written; a young cluster's own entries would blur that here.)
func TestPlanThroughFollower(t *testing.T) {
	servers := testCluster(t, 3)
	var leader *Server
	var evalID string
	eventually(t, 60*time.Second, func() error { // a young cluster may still change leaders
		leader = leaderOf(t, servers)
		var err error
		evalID, _, err = leader.SubmitJob(t.Context(), testJob(2))
		return err
	})
	eventually(t, 60*time.Second, func() error { // the leader's own writes for it are done, everywhere
		for _, s := range servers {
			if e := s.store.EvalByID(evalID); e == nil || e.Status != structs.EvalComplete {
				return fmt.Errorf("evaluation %s on %s: %+v", evalID, s.cfg.Name, e)
			}
		}
		return nil
	})
	leader = leaderOf(t, servers)
	follower := servers[0]
	if follower == leader {
		follower = servers[1]
	}
	cur := leader.store.JobByID("default", "web")
	evals := len(leader.store.Evals())
	hcl := `job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`
	code, body := postJSON(t, follower.HTTPURL()+"/v1/job/web/plan", map[string]any{"hcl": hcl})
	if code != http.StatusOK {
		t.Fatalf("plan through a follower: HTTP %d %s", code, body)
	}
	var res jobplan.Result
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if res.JobModifyIndex != cur.JobModifyIndex || res.Diff == nil || res.Diff.Type != jobplan.DiffEdited {
		t.Errorf("plan through a follower: index %d (want %d), diff %+v", res.JobModifyIndex, cur.JobModifyIndex, res.Diff)
	}
	if res.FailedTGAllocs["g"] == nil {
		t.Errorf("no nodes: want a placement failure for group g, got %+v", res.FailedTGAllocs)
	}
	if j := leader.store.JobByID("default", "web"); j.Version != cur.Version || len(leader.store.Evals()) != evals {
		t.Errorf("the plan wrote: job version %d → %d, evaluations %d → %d", cur.Version, j.Version, evals, len(leader.store.Evals()))
	}
}
