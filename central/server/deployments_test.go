package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// rollingTestJob is testJob with an update block: one at a time, a short
// healthy_deadline, auto_revert. cmd makes versions differ destructively.
func rollingTestJob(count int, cmd string, progress time.Duration) *jobspec.Job {
	j := testJob(count)
	j.TaskGroups[0].Tasks[0].Config = map[string]any{"command": cmd}
	j.TaskGroups[0].Update = &jobspec.UpdateStrategy{MaxParallel: 1, HealthCheck: jobspec.HealthTaskStates,
		HealthyDeadline: time.Second, ProgressDeadline: progress, Stagger: 30 * time.Second, AutoRevert: true}
	return j
}

// reportAll makes the wire agent report every alloc the desired state
// holds running, with the given deployment health (nil: no report).
func (a *wireAgent) reportAll(seq *uint64, healthy *bool) {
	d := a.currentDesired()
	if d == nil {
		return
	}
	up := &protocol.Update{V: protocol.Version}
	for _, da := range d.Allocs {
		*seq++
		u := protocol.AllocUpdate{Seq: *seq, AllocID: da.ID, ClientStatus: protocol.AllocRunning, Time: time.Now().UnixMilli(),
			TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning}}}
		if healthy != nil && da.DeploymentID != "" {
			u.Health = &protocol.AllocHealth{Healthy: *healthy, Time: time.Now().UnixMilli(), DeploymentID: da.DeploymentID}
		}
		up.Allocs = append(up.Allocs, u)
	}
	a.publish(a.topics.Up(a.id), 1, up)
}

func deployServer(t *testing.T, margin time.Duration) *Server {
	return deployServerTTL(t, margin, time.Minute)
}

func deployServerTTL(t *testing.T, margin, ttl time.Duration) *Server {
	t.Helper()
	s, err := New(Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: ttl, HeartbeatGrace: -1, DevMode: true, DeploymentHealthMargin: margin,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 10*time.Second, func() error {
		if s.currentLeader() == nil {
			return fmt.Errorf("not leader yet")
		}
		return nil
	})
	return s
}

func latestDeployment(s *Server) *structs.Deployment {
	return s.store.LatestDeploymentByJob("default", "web")
}

// docs/deployments.md: version 0 rolls out and becomes stable once its
// allocs report healthy; version 1's first replacement never reports, so
// central fails the deployment once healthy_deadline (+ margin) passed,
// stops nothing more of version 0, and with auto_revert registers a copy
// of version 0 as version 2.
func TestDeploymentWatcherFailsOnMissingHealthAndReverts(t *testing.T) {
	s := deployServer(t, 300*time.Millisecond)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 30*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready")
		}
		return nil
	})
	ctx := context.Background()
	if _, _, err := s.SubmitJob(ctx, rollingTestJob(2, "/bin/v0", time.Minute)); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	ok := true
	eventually(t, 10*time.Second, func() error {
		a.reportAll(&seq, &ok)
		d := latestDeployment(s)
		if d == nil || d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 0 deployment: %+v", d)
		}
		if j := s.store.JobByID("default", "web"); !j.Stable {
			return fmt.Errorf("version 0 not marked stable")
		}
		return nil
	})
	first := latestDeployment(s)

	if _, _, err := s.SubmitJob(ctx, rollingTestJob(2, "/bin/broken", time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		d := latestDeployment(s)
		if d == nil || d.ID == first.ID || d.JobVersion != 1 {
			return fmt.Errorf("no deployment of version 1 yet: %+v", d)
		}
		return nil
	})
	broken := latestDeployment(s)
	// The agent reports running but never healthy.
	eventually(t, 15*time.Second, func() error {
		a.reportAll(&seq, nil)
		d := s.store.DeploymentByID(broken.ID)
		if d.Status != structs.DeploymentFailed {
			return fmt.Errorf("version 1 deployment %s: %s", d.Status, d.StatusDescription)
		}
		return nil
	})
	d := s.store.DeploymentByID(broken.ID)
	if !strings.Contains(d.StatusDescription, "no health within its healthy_deadline") || !strings.Contains(d.StatusDescription, "rolling back to job version 0") {
		t.Errorf("description %q", d.StatusDescription)
	}
	j := s.store.JobByID("default", "web")
	if j.Version != 2 || j.TaskGroups[0].Tasks[0].Config["command"] != "/bin/v0" || j.Stable {
		t.Fatalf("after auto-revert: version %d command %v stable %v; want version 2, /bin/v0's copy, not stable", j.Version, j.TaskGroups[0].Tasks[0].Config["command"], j.Stable)
	}
	// Max parallel 1: at most one version 0 alloc was ever stopped for
	// the update.
	stopped := 0
	for _, al := range s.store.AllocsByJob("default", "web") {
		if al.JobVersion == 0 && al.DesiredDescription == "alloc is being updated due to job update" {
			stopped++
		}
	}
	if stopped > 1 {
		t.Errorf("%d version 0 allocs stopped for the broken rollout, want at most max_parallel 1", stopped)
	}
	// The revert rolls out and succeeds in turn.
	eventually(t, 15*time.Second, func() error {
		a.reportAll(&seq, &ok)
		d := latestDeployment(s)
		if d == nil || d.JobVersion != 2 || d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 2 deployment: %+v", d)
		}
		return nil
	})
}

// A deployment lives in the replicated state: after the leader goes away
// the new leader still has it and enforces its progress deadline.
func TestDeploymentSurvivesFailover(t *testing.T) {
	servers := testCluster(t, 3)
	// No node can take the allocs: the deployment makes no progress.
	var l *Server
	eventually(t, 30*time.Second, func() error {
		l = leaderOf(t, servers)
		_, _, err := l.SubmitJob(context.Background(), rollingTestJob(1, "/bin/v0", 4*time.Second))
		return err // a busy machine may cost the new cluster its first leader
	})
	var id string
	eventually(t, 10*time.Second, func() error {
		for _, s := range servers {
			d := latestDeployment(s)
			if d == nil {
				return fmt.Errorf("%s has no deployment yet", s.cfg.Name)
			}
			id = d.ID
		}
		return nil
	})
	l.Close()
	var rest []*Server
	for _, s := range servers {
		if s != l {
			rest = append(rest, s)
		}
	}
	nl := leaderOf(t, rest)
	eventually(t, 30*time.Second, func() error {
		d := nl.store.DeploymentByID(id)
		if d == nil || d.Status != structs.DeploymentFailed || !strings.Contains(d.StatusDescription, "progress deadline") {
			return fmt.Errorf("deployment after failover: %+v", d)
		}
		return nil
	})
}

// docs/api.md "Deployments": canaries wait for POST promote, which is
// refused until they are healthy; pause and resume; fail; the read
// endpoints; and an anonymous client under ACLs can neither read nor
// change a deployment.
func TestDeploymentAPI(t *testing.T) {
	s := deployServer(t, time.Minute)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 30*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready")
		}
		return nil
	})
	ctx := context.Background()
	canaryJob := func(cmd string) *jobspec.Job {
		j := rollingTestJob(2, cmd, time.Minute)
		j.TaskGroups[0].Update.Canary = 1
		j.TaskGroups[0].Update.AutoRevert = false
		return j
	}
	if _, _, err := s.SubmitJob(ctx, canaryJob("/bin/v0")); err != nil {
		t.Fatal(err)
	}
	var seq uint64
	ok := true
	eventually(t, 10*time.Second, func() error {
		a.reportAll(&seq, &ok)
		if d := latestDeployment(s); d == nil || d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 0: %+v", d)
		}
		return nil
	})
	if _, _, err := s.SubmitJob(ctx, canaryJob("/bin/v1")); err != nil {
		t.Fatal(err)
	}
	var d *structs.Deployment
	eventually(t, 30*time.Second, func() error {
		d = latestDeployment(s)
		if d == nil || d.JobVersion != 1 || len(s.store.AllocsByDeployment(d.ID)) != 1 {
			return fmt.Errorf("no canary of version 1 yet: %+v", d)
		}
		return nil
	})
	if code, body := aclReqBody(t, s, "GET", "/v1/deployment/"+d.ID[:6], "", nil); code != 200 || !strings.Contains(body, `"desired_canaries":1`) {
		t.Fatalf("GET deployment by prefix: %d %s", code, body)
	}
	if code, body := aclReqBody(t, s, "POST", "/v1/deployment/promote/"+d.ID, "", map[string]any{}); code != 400 || !strings.Contains(body, "0 of 1 canaries healthy") {
		t.Fatalf("promote before the canary is healthy: %d %s", code, body)
	}
	a.reportAll(&seq, &ok)
	eventually(t, 30*time.Second, func() error {
		if got := s.store.DeploymentByID(d.ID).TaskGroups["g"].HealthyAllocs; got != 1 {
			return fmt.Errorf("healthy %d", got)
		}
		return nil
	})
	if live := liveAllocs(s); live != 3 {
		t.Fatalf("%d live allocs while the canary waits, want count 2 + 1 canary", live)
	}
	if code, body := aclReqBody(t, s, "POST", "/v1/deployment/promote/"+d.ID, "", map[string]any{}); code != 200 || !strings.Contains(body, `"eval_id"`) {
		t.Fatalf("promote: %d %s", code, body)
	}
	eventually(t, 15*time.Second, func() error {
		a.reportAll(&seq, &ok)
		if live := liveAllocs(s); live > 3 {
			t.Fatalf("%d live allocs during the rollout, more than count + canary", live)
		}
		if d := s.store.DeploymentByID(d.ID); d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 1: %s %s", d.Status, d.StatusDescription)
		}
		return nil
	})

	// Version 2: pause, resume, fail.
	if _, _, err := s.SubmitJob(ctx, canaryJob("/bin/v2")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if d = latestDeployment(s); d == nil || d.JobVersion != 2 {
			return fmt.Errorf("no deployment of version 2 yet")
		}
		return nil
	})
	for _, step := range []struct {
		path   string
		body   any
		status string
	}{
		{"/v1/deployment/pause/" + d.ID, map[string]any{"pause": true}, structs.DeploymentPaused},
		{"/v1/deployment/pause/" + d.ID, map[string]any{"pause": false}, structs.DeploymentRunning},
		{"/v1/deployment/fail/" + d.ID, map[string]any{}, structs.DeploymentFailed},
	} {
		if code, body := aclReqBody(t, s, "POST", step.path, "", step.body); code != 200 {
			t.Fatalf("POST %s %v: %d %s", step.path, step.body, code, body)
		}
		if got := s.store.DeploymentByID(d.ID).Status; got != step.status {
			t.Fatalf("after POST %s %v: %s, want %s", step.path, step.body, got, step.status)
		}
	}
	if code, body := aclReqBody(t, s, "POST", "/v1/deployment/fail/"+d.ID, "", map[string]any{}); code != 400 || !strings.Contains(body, "failed") {
		t.Errorf("failing a failed deployment: %d %s", code, body)
	}
	if code, body := aclReqBody(t, s, "POST", "/v1/deployment/pause/"+d.ID, "", map[string]any{}); code != 400 {
		t.Errorf("pause without a body: %d %s", code, body)
	}
	code, body := aclReqBody(t, s, "GET", "/v1/job/web/deployments", "", nil)
	if code != 200 || strings.Count(body, `"job_version"`) != 3 {
		t.Errorf("GET job deployments: %d %s", code, body)
	}
	if code, body := aclReqBody(t, s, "GET", "/v1/deployments", "", nil); code != 200 || strings.Count(body, `"job_version"`) != 3 {
		t.Errorf("GET deployments: %d %s", code, body)
	}

	acl := aclTestServer(t)
	code, body = aclReq(t, acl, "POST", "/v1/acl/bootstrap", "")
	if code != 200 {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	var tok struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &tok)
	j := rollingTestJob(1, "/bin/v0", time.Minute)
	if code, body := aclReqBody(t, acl, "POST", "/v1/jobs", tok.SecretID, map[string]any{"job": j}); code != 200 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var id string
	eventually(t, 30*time.Second, func() error {
		if d := acl.store.LatestDeploymentByJob("default", "web"); d != nil {
			id = d.ID
			return nil
		}
		return fmt.Errorf("no deployment yet")
	})
	if code, body := aclReq(t, acl, "GET", "/v1/deployment/"+id, ""); code != 404 {
		t.Errorf("anonymous GET deployment: %d %s, want 404", code, body)
	}
	if code, body := aclReq(t, acl, "GET", "/v1/deployments", ""); code != 200 || strings.Contains(body, id) {
		t.Errorf("anonymous GET deployments: %d %s, want an empty list", code, body)
	}
	if code, body := aclReqBody(t, acl, "POST", "/v1/deployment/fail/"+id, "", map[string]any{}); code != 403 {
		t.Errorf("anonymous fail: %d %s, want 403", code, body)
	}
	if d := acl.store.DeploymentByID(id); d.Status == structs.DeploymentFailed {
		t.Error("an anonymous client failed the deployment")
	}
}

func liveAllocs(s *Server) int {
	n := 0
	for _, a := range s.store.AllocsByJob("default", "web") {
		if a.DesiredStatus == protocol.DesiredRun && !a.Terminal() {
			n++
		}
	}
	return n
}

// docs/deployments.md (Disconnected nodes during a rollout): an old alloc
// on a disconnected node is skipped — not stopped, recorded in the
// deployment, which succeeds without it — and updated by a new deployment
// of the same version when its node returns.
func TestDeploymentSkipsDisconnectedNode(t *testing.T) {
	s := deployServerTTL(t, time.Minute, 3*time.Second)
	n1, n2 := newWireAgent(t, s, "n1"), newWireAgent(t, s, "n2")
	n1.hello()
	n2.hello()
	var cut atomic.Bool // n2 stops heartbeating
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		var seq uint64
		for {
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
			seq++
			n1.heartbeat(seq)
			if !cut.Load() {
				n2.heartbeat(seq)
			}
		}
	}()
	for _, id := range []string{"n1", "n2"} {
		eventually(t, 30*time.Second, func() error {
			if n := s.store.NodeByID(id); n == nil || n.Status != structs.NodeReady {
				return fmt.Errorf("%s not ready", id)
			}
			return nil
		})
	}
	job := func(cmd string) *jobspec.Job {
		j := rollingTestJob(2, cmd, time.Minute)
		j.TaskGroups[0].Update.HealthyDeadline = 30 * time.Second
		replace := false
		j.TaskGroups[0].Disconnect = &jobspec.Disconnect{LostAfter: time.Hour, Replace: &replace}
		j.TaskGroups[0].Constraints = []*jobspec.Constraint{{Operand: jobspec.OpDistinctHosts}}
		return j
	}
	ctx := context.Background()
	if _, _, err := s.SubmitJob(ctx, job("/bin/v0")); err != nil {
		t.Fatal(err)
	}
	var seq1, seq2 uint64
	ok := true
	eventually(t, 10*time.Second, func() error {
		n1.reportAll(&seq1, &ok)
		n2.reportAll(&seq2, &ok)
		if d := latestDeployment(s); d == nil || d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 0: %+v", d)
		}
		return nil
	})
	var away *structs.Allocation
	for _, a := range s.store.AllocsByJob("default", "web") {
		if a.NodeID == "n2" {
			away = a
		}
	}
	cut.Store(true)
	eventually(t, 10*time.Second, func() error {
		if n := s.store.NodeByID("n2"); n.Status != structs.NodeDisconnected {
			return fmt.Errorf("n2 is %s", n.Status)
		}
		return nil
	})

	if _, _, err := s.SubmitJob(ctx, job("/bin/v1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		n1.reportAll(&seq1, &ok)
		d := latestDeployment(s)
		if d == nil || d.JobVersion != 1 || d.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("version 1: %+v", d)
		}
		if g := d.TaskGroups["g"]; g.DisconnectedSkipped != 1 || g.HealthyAllocs != 1 {
			return fmt.Errorf("version 1 group state %+v, want 1 healthy and 1 skipped", g)
		}
		return nil
	})
	if a := s.store.AllocByID(away.ID); a.DesiredStatus != protocol.DesiredRun || a.JobVersion != 0 {
		t.Fatalf("the alloc on the disconnected node was touched: desired %s version %d", a.DesiredStatus, a.JobVersion)
	}
	first := latestDeployment(s).ID

	// n2 returns and reports its alloc: a new deployment of version 1
	// replaces it.
	cut.Store(false)
	// As a real agent does, the hello carries the allocations it runs.
	back := &protocol.Hello{V: protocol.Version, NodeID: "n2", Name: "node-n2", Datacenter: "dc1",
		Drivers: []string{"exec"}, Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux"},
		Resources: protocol.Resources{CPU: 2000, MemoryMB: 1024}}
	for _, da := range n2.currentDesired().Allocs {
		seq2++
		back.Allocs = append(back.Allocs, protocol.AllocUpdate{Seq: seq2, AllocID: da.ID, ClientStatus: protocol.AllocRunning,
			Time: time.Now().UnixMilli(), TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning}}})
	}
	n2.publish(n2.topics.Hello("n2"), 1, back)
	eventually(t, 10*time.Second, func() error {
		if n := s.store.NodeByID("n2"); n.Status != structs.NodeReady {
			return fmt.Errorf("n2 is %s after its hello", n.Status)
		}
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		n2.reportAll(&seq2, &ok)
		d := latestDeployment(s)
		if d == nil || d.ID == first || d.JobVersion != 1 {
			var as []string
			for _, a := range s.store.AllocsByJob("default", "web") {
				as = append(as, fmt.Sprintf("%s@%s v%d %s/%s %v", a.ID[:4], a.NodeID, a.JobVersion, a.DesiredStatus, a.ClientStatus, a.Events))
			}
			return fmt.Errorf("no new deployment of version 1 for the returning node (n2 %s): %+v; allocs %v", s.store.NodeByID("n2").Status, d, as)
		}
		if a := s.store.AllocByID(away.ID); a.DesiredStatus != protocol.DesiredStop {
			return fmt.Errorf("the returning node's old alloc is still desired %s (%s)", a.DesiredStatus, a.ClientStatus)
		}
		if d.Status != structs.DeploymentSuccessful {
			var as []string
			for _, a := range s.store.AllocsByJob("default", "web") {
				as = append(as, fmt.Sprintf("%s@%s v%d %s/%s dep=%s %+v", a.ID[:4], a.NodeID, a.JobVersion, a.DesiredStatus, a.ClientStatus, a.DeploymentID, a.DeploymentStatus))
			}
			return fmt.Errorf("second deployment of version 1: %s %+v; allocs %v", d.Status, d.TaskGroups["g"], as)
		}
		return nil
	})
}

// health_check = "manual": the operator's POST /v1/deployment/
// allocation-health sets the verdict, and the deployment follows it; an
// allocation the deployment did not place is refused.
func TestDeploymentManualHealth(t *testing.T) {
	s := deployServer(t, time.Minute)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 30*time.Second, func() error {
		if n := s.store.NodeByID("n1"); n == nil || n.Status != structs.NodeReady {
			return fmt.Errorf("node not ready")
		}
		return nil
	})
	j := rollingTestJob(2, "/bin/v0", time.Minute)
	j.TaskGroups[0].Update.HealthCheck = jobspec.HealthManual
	if _, _, err := s.SubmitJob(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	var d *structs.Deployment
	var ids []string
	eventually(t, 30*time.Second, func() error {
		d = latestDeployment(s)
		if d == nil {
			return fmt.Errorf("no deployment yet")
		}
		ids = nil
		for _, al := range s.store.AllocsByDeployment(d.ID) {
			ids = append(ids, al.ID)
		}
		if len(ids) != 2 {
			return fmt.Errorf("%d allocs placed", len(ids))
		}
		return nil
	})
	path := "/v1/deployment/allocation-health/" + d.ID
	if code, body := aclReqBody(t, s, "POST", path, "", map[string]any{"healthy_allocation_ids": []string{"nope"}}); code != 400 || !strings.Contains(body, "not placed by deployment") {
		t.Fatalf("health of a foreign alloc: %d %s", code, body)
	}
	if code, body := aclReqBody(t, s, "POST", path, "", map[string]any{"healthy_allocation_ids": ids[:1]}); code != 200 {
		t.Fatalf("set health: %d %s", code, body)
	}
	if got := s.store.DeploymentByID(d.ID); got.TaskGroups["g"].HealthyAllocs != 1 || got.Status != structs.DeploymentRunning {
		t.Fatalf("after one healthy: %s %+v", got.Status, got.TaskGroups["g"])
	}
	if code, body := aclReqBody(t, s, "POST", path, "", map[string]any{"healthy_allocation_ids": ids[1:]}); code != 200 {
		t.Fatalf("set health: %d %s", code, body)
	}
	eventually(t, 30*time.Second, func() error {
		if got := s.store.DeploymentByID(d.ID); got.Status != structs.DeploymentSuccessful {
			return fmt.Errorf("deployment %s", got.Status)
		}
		return nil
	})
}
