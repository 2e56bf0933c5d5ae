package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// gcServer starts a dev-mode server on dir with the given GC config.
func gcServer(t *testing.T, dir string, gc GCConfig) *Server {
	t.Helper()
	s, err := New(Config{
		DataDir: dir, HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: time.Minute, HeartbeatGrace: -1, DevMode: true, GC: gc,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 20*time.Second, func() error {
		if s.currentLeader() == nil {
			return fmt.Errorf("not leader yet")
		}
		return nil
	})
	return s
}

func batchJob(id string) *jobspec.Job {
	j := testJob(1)
	j.ID, j.Name, j.Type = id, id, jobspec.JobTypeBatch
	return j
}

// readyNode registers a wire agent and waits for the node to be ready.
func readyNode(t *testing.T, s *Server, id string) *wireAgent {
	a := newWireAgent(t, s, id)
	a.hello()
	eventually(t, 10*time.Second, func() error {
		if n := s.store.NodeByID(id); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node %s not ready: %+v", id, n)
		}
		return nil
	})
	return a
}

// runJobs submits the jobs, waits for their allocations in the agent's
// desired state, and reports each one with the given client status.
func runJobs(t *testing.T, s *Server, a *wireAgent, status string, jobs ...*jobspec.Job) {
	t.Helper()
	want := map[string]bool{}
	for _, j := range jobs {
		if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
			t.Fatal(err)
		}
		want[j.ID] = true
	}
	up := &protocol.Update{V: protocol.Version}
	eventually(t, 20*time.Second, func() error {
		up.Allocs = nil
		d := a.currentDesired()
		if d == nil {
			return fmt.Errorf("no desired state yet")
		}
		for _, da := range d.Allocs {
			if want[da.JobID] {
				a.mu.Lock()
				seq := a.acked + uint64(len(up.Allocs)) + 1
				a.mu.Unlock()
				up.Allocs = append(up.Allocs, protocol.AllocUpdate{Seq: seq, AllocID: da.ID, ClientStatus: status, Time: time.Now().UnixMilli(),
					TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskDead}}})
			}
		}
		if len(up.Allocs) != len(jobs) {
			return fmt.Errorf("%d of %d allocations in the desired state", len(up.Allocs), len(jobs))
		}
		return nil
	})
	a.publish(a.topics.Up(a.id), 1, up)
	eventually(t, 20*time.Second, func() error {
		for _, j := range jobs {
			for _, al := range s.store.AllocsByJob("default", j.ID) {
				if al.ClientStatus != status {
					return fmt.Errorf("alloc %s of %s is %s", al.ID, j.ID, al.ClientStatus)
				}
			}
		}
		return nil
	})
}

func snapshotSize(t *testing.T, s *Server) int64 {
	t.Helper()
	file := filepath.Join(t.TempDir(), "state.snap")
	_, stderr, done := runCLI(s, "operator", "snapshot", "save", file)
	if code := <-done; code != 0 {
		t.Fatalf("snapshot save exit %d: %s", code, stderr)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func getStatus(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.HTTPURL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// docs/operations.md "Garbage collection": dead batch jobs stay until
// job_gc_threshold (the timer keeps its hands off them), `central system
// gc` removes them at once, with their allocations and evaluations, from
// every listing, the nodes' desired state and the snapshots; a running
// job and its allocation are never touched.
func TestSystemGCRemovesDeadBatchJobsOnly(t *testing.T) {
	s := gcServer(t, t.TempDir(), GCConfig{Interval: 20 * time.Millisecond})
	a := readyNode(t, s, "n1")
	svc := testJob(1)
	runJobs(t, s, a, protocol.AllocRunning, svc)
	var batch []*jobspec.Job
	for i := range 8 {
		batch = append(batch, batchJob(fmt.Sprintf("short-%d", i)))
	}
	runJobs(t, s, a, protocol.AllocComplete, batch...)
	eventually(t, 20*time.Second, func() error {
		for _, j := range batch {
			if st := s.store.JobByID("default", j.ID).Status; st != jobspec.JobStatusDead {
				return fmt.Errorf("job %s is %s", j.ID, st)
			}
		}
		return nil
	})
	var evalIDs []string
	for _, j := range batch {
		for _, e := range s.store.EvalsByJob("default", j.ID) {
			evalIDs = append(evalIDs, e.ID)
		}
	}
	before := snapshotSize(t, s)

	// The timer runs, but nothing is past the default thresholds.
	runs := func() uint64 { s.gcStats.mu.Lock(); defer s.gcStats.mu.Unlock(); return s.gcStats.timer }
	start := runs()
	eventually(t, 20*time.Second, func() error {
		if runs() < start+3 {
			return fmt.Errorf("%d timer passes", runs()-start)
		}
		return nil
	})
	if n := len(s.store.Jobs("")); n != 9 {
		t.Fatalf("%d jobs after timer passes under the thresholds, want all 9", n)
	}

	stdout, stderr, done := runCLI(s, "system", "gc")
	if code := <-done; code != 0 {
		t.Fatalf("system gc exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout.String(), "Garbage collected: 8 jobs") {
		t.Fatalf("system gc said %q, want 8 jobs collected", stdout)
	}
	for _, j := range batch {
		if s.store.JobByID("default", j.ID) != nil || len(s.store.AllocsByJob("default", j.ID)) != 0 || len(s.store.EvalsByJob("default", j.ID)) != 0 {
			t.Fatalf("job %s or its allocs or evals survived", j.ID)
		}
		if code, _ := getStatus(t, s, "/v1/job/"+j.ID); code != http.StatusNotFound {
			t.Errorf("GET /v1/job/%s: %d, want 404", j.ID, code)
		}
	}
	for _, id := range evalIDs {
		if code, _ := getStatus(t, s, "/v1/evaluation/"+id); code != http.StatusNotFound {
			t.Errorf("GET /v1/evaluation/%s: %d, want 404", id, code)
		}
	}
	_, body := getStatus(t, s, "/v1/evaluations")
	var evals []structs.Evaluation
	if err := json.Unmarshal([]byte(body), &evals); err != nil {
		t.Fatal(err)
	}
	for _, e := range evals {
		if e.JobID != "web" {
			t.Errorf("/v1/evaluations still lists %s of job %s", e.ID, e.JobID)
		}
	}
	_, body = getStatus(t, s, "/v1/allocations")
	var allocs []structs.Allocation
	if err := json.Unmarshal([]byte(body), &allocs); err != nil {
		t.Fatal(err)
	}
	if len(allocs) != 1 || allocs[0].JobID != "web" || allocs[0].ClientStatus != protocol.AllocRunning {
		t.Fatalf("/v1/allocations after gc: %+v, want only web's running alloc", allocs)
	}
	stdout, _, done = runCLI(s, "job", "status")
	<-done
	if strings.Contains(stdout.String(), "short-") || !strings.Contains(stdout.String(), "web") {
		t.Fatalf("job status after gc:\n%s", stdout)
	}
	// The node's desired state is published again without them.
	eventually(t, 10*time.Second, func() error {
		d := a.currentDesired()
		if len(d.Allocs) != 1 || d.Allocs[0].JobID != "web" {
			return fmt.Errorf("desired state lists %d allocs", len(d.Allocs))
		}
		return nil
	})
	after := snapshotSize(t, s)
	if after >= before {
		t.Fatalf("snapshot %d bytes after gc, %d before: want smaller", after, before)
	}
	t.Logf("snapshot: %d bytes before system gc, %d after", before, after)
	if s.store.JobByID("default", "web") == nil {
		t.Fatal("the running service job was collected")
	}
	_, metrics := getStatus(t, s, "/v1/metrics")
	for _, want := range []string{`tether_gc_deleted_total{kind="jobs"} 8`, `tether_gc_deleted_total{kind="allocs"} 8`, `tether_gc_runs_total{trigger="forced"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The timer's decisions rest on times in the state, so a pass due under
// one leader is made by the next: here the same server after a restart
// (a new leadership term, nothing kept in memory).
func TestGCTimerCollectsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := GCConfig{Interval: 50 * time.Millisecond, JobThreshold: 8 * time.Second}
	s := gcServer(t, dir, cfg)
	a := readyNode(t, s, "n1")
	runJobs(t, s, a, protocol.AllocComplete, batchJob("once"))
	eventually(t, 10*time.Second, func() error {
		if st := s.store.JobByID("default", "once").Status; st != jobspec.JobStatusDead {
			return fmt.Errorf("job is %s", st)
		}
		return nil
	})
	a.c.Disconnect(0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.gcStats.deleted.Jobs != 0 {
		t.Fatal("collected before the threshold")
	}

	s2 := gcServer(t, dir, cfg)
	if s2.store.JobByID("default", "once") == nil {
		t.Fatal("job lost in the restart")
	}
	eventually(t, 30*time.Second, func() error {
		if s2.store.JobByID("default", "once") != nil {
			return fmt.Errorf("job not collected yet")
		}
		return nil
	})
	s2.gcStats.mu.Lock()
	defer s2.gcStats.mu.Unlock()
	if s2.gcStats.deleted.Jobs != 1 || s2.gcStats.forced != 0 {
		t.Fatalf("after restart: %+v, want the job collected by the timer", s2.gcStats.deleted)
	}
}

// With ACLs on, a forced collection needs operator write: anonymous
// requests and tokens with operator read (or none) get 403 and collect
// nothing; a management token or operator write may.
func TestSystemGCNeedsOperatorWrite(t *testing.T) {
	s := aclTestServer(t)
	_, body := aclReq(t, s, "POST", "/v1/acl/bootstrap", "")
	var mgmt struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &mgmt)
	token := func(name, rules string) string {
		t.Helper()
		if code, body := aclReqBody(t, s, "PUT", "/v1/acl/policy/"+name, mgmt.SecretID, api.PolicyRequest{Rules: rules}); code != 200 {
			t.Fatalf("policy %s: %d %s", name, code, body)
		}
		code, body := aclReqBody(t, s, "POST", "/v1/acl/token", mgmt.SecretID, api.TokenRequest{Name: name, Policies: []string{name}})
		var tok struct {
			SecretID string `json:"secret_id"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
			t.Fatalf("token %s: %d %s", name, code, body)
		}
		return tok.SecretID
	}
	opRead := token("op-read", `operator { policy = "read" }`)
	jobs := token("jobs", `namespace "default" { policy = "write" }`)
	opWrite := token("op-write", `operator { policy = "write" }`)
	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"operator read", opRead}, {"namespace write", jobs}} {
		if code, body := aclReq(t, s, "PUT", "/v1/system/gc", who.token); code != http.StatusForbidden || !strings.Contains(body, "operator") {
			t.Errorf("system gc as %s: %d %s, want 403 naming operator write", who.name, code, body)
		}
	}
	s.gcStats.mu.Lock()
	forced := s.gcStats.forced
	s.gcStats.mu.Unlock()
	if forced != 0 {
		t.Fatalf("%d forced passes ran for refused requests", forced)
	}
	for _, tok := range []string{mgmt.SecretID, opWrite} {
		if code, body := aclReq(t, s, "PUT", "/v1/system/gc", tok); code != 200 || !strings.Contains(body, `"deleted"`) {
			t.Errorf("system gc with operator write: %d %s", code, body)
		}
	}
}

func aclReqBody(t *testing.T, s *Server, method, path, token string, body any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, "http://"+s.HTTPAddr()+path, bytes.NewReader(b))
	req.Header.Set("X-Tether-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// docs/ha.md, docs/operations.md: the GC timer is a leader duty whose
// decisions rest on times in the replicated state. A join token expires
// under one leader; that leader is stopped before the threshold passes;
// the next leader collects it on time.
func TestGCTimerCarriesOnAfterFailover(t *testing.T) {
	gcc := GCConfig{Interval: 50 * time.Millisecond, JoinTokenThreshold: 10 * time.Second}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var servers []*Server
	for i := range addrs {
		var join []string
		for j, a := range addrs {
			if j != i {
				join = append(join, a)
			}
		}
		s, err := New(Config{
			Name: fmt.Sprintf("s%d", i+1), DataDir: t.TempDir(), HTTPAddr: addrs[i], RaftAddr: "127.0.0.1:0",
			MQTTAddr: "127.0.0.1:0", BootstrapExpect: 3, Join: join, DevMode: true, GC: gcc,
		}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers = append(servers, s)
	}
	old := leaderOf(t, servers)
	resp, err := http.Post(old.HTTPURL()+"/v1/security/join-token?ttl=1s", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("join token create: %d", resp.StatusCode)
	}
	eventually(t, 10*time.Second, func() error {
		for _, s := range servers {
			if len(s.store.JoinTokens()) != 1 {
				return fmt.Errorf("%s holds %d join tokens", s.cfg.Name, len(s.store.JoinTokens()))
			}
		}
		return nil
	})
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	if old.gcStats.deleted.JoinTokens != 0 || len(old.store.JoinTokens()) != 1 {
		t.Fatal("the old leader collected the token before join_token_gc_threshold")
	}
	var rest []*Server
	for _, s := range servers {
		if s != old {
			rest = append(rest, s)
		}
	}
	next := leaderOf(t, rest)
	eventually(t, 30*time.Second, func() error {
		for _, s := range rest {
			if n := len(s.store.JoinTokens()); n != 0 {
				return fmt.Errorf("%s still holds %d join tokens", s.cfg.Name, n)
			}
		}
		return nil
	})
	next.gcStats.mu.Lock()
	deleted, forced := next.gcStats.deleted, next.gcStats.forced
	next.gcStats.mu.Unlock()
	if deleted.JoinTokens != 1 || forced != 0 {
		t.Fatalf("new leader's gc: %+v (forced %d), want the token collected by its timer", deleted, forced)
	}

	// A forced pass asked of a follower runs on the leader.
	follower := rest[0]
	if follower == next {
		follower = rest[1]
	}
	req, _ := http.NewRequest(http.MethodPut, follower.HTTPURL()+"/v1/system/gc", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"deleted"`) {
		t.Fatalf("system gc through a follower: %d %s", resp.StatusCode, body)
	}
	next.gcStats.mu.Lock()
	defer next.gcStats.mu.Unlock()
	if next.gcStats.forced != 1 {
		t.Fatalf("the leader ran %d forced passes, want 1 (forwarded by the follower)", next.gcStats.forced)
	}
}
