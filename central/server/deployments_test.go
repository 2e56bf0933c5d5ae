package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
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
	t.Helper()
	s, err := New(Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		HeartbeatTTL: time.Minute, HeartbeatGrace: -1, DevMode: true, DeploymentHealthMargin: margin,
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

func latestDeployment(s *Server) *structs.Deployment { return s.store.LatestDeploymentByJob("default", "web") }

// docs/deployments.md: version 0 rolls out and becomes stable once its
// allocs report healthy; version 1's first replacement never reports, so
// central fails the deployment once healthy_deadline (+ margin) passed,
// stops nothing more of version 0, and with auto_revert registers a copy
// of version 0 as version 2.
func TestDeploymentWatcherFailsOnMissingHealthAndReverts(t *testing.T) {
	s := deployServer(t, 300*time.Millisecond)
	a := newWireAgent(t, s, "n1")
	a.hello()
	eventually(t, 5*time.Second, func() error {
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
	eventually(t, 5*time.Second, func() error {
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
	l := leaderOf(t, servers)
	// No node can take the allocs: the deployment makes no progress.
	if _, _, err := l.SubmitJob(context.Background(), rollingTestJob(1, "/bin/v0", 4*time.Second)); err != nil {
		t.Fatal(err)
	}
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
