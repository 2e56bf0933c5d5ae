package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent"
	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// The attack of issue 22 item 5 end to end: central with broker
// authentication, an enrolled agent, and an attacker who stole central's
// signing key and broker password (as the snapshot download used to hand
// them out). The attacker publishes a desired state with index 2^62; the
// node runs it and ignores central's next desired state. Rotating the key
// and the broker password (keyring rotate -broker-password) ends the
// attacker's session, and the agent re-pins the new key and runs central's
// desired state again, stopping the attacker's allocation. (What the
// attacker's desired state stopped stays stopped: an agent never restarts
// an allocation ID; central's scheduler replaces it.)
func TestStolenKeyIndexJumpEndToEnd(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	var jt JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt); code != http.StatusOK {
		t.Fatalf("join token: %d", code)
	}
	cfg := config.Default()
	cfg.Name, cfg.DataDir, cfg.Brokers = "edge-1", t.TempDir(), s.BrokerURLs()
	cfg.JoinToken, cfg.Central = jt.Secret, base
	cfg.Heartbeat = 200 * time.Millisecond
	drv := fake.NewNamed("exec")
	a, err := agent.New(agent.Options{Config: &cfg, Drivers: []drivers.Driver{drv}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		FingerprintRoot: "../../agent/fingerprint/testdata/pi4", RetryInterval: 50 * time.Millisecond,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	id := a.NodeID()

	eventually(t, 20*time.Second, func() error {
		if n := s.store.NodeByID(id); n == nil || n.Status != "ready" {
			return fmt.Errorf("node %s not ready", id)
		}
		return nil
	})
	evalID, _, err := s.SubmitJob(context.Background(), fakeExecJob("web"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if e := s.store.EvalByID(evalID); e == nil || e.Status == "pending" {
			return fmt.Errorf("eval %s pending", evalID)
		}
		return nil
	})
	waitRunningAlloc(t, s, drv, "web")

	// The theft, and the attack.
	kr := s.store.Keyring()
	keys, pw, err := s.secrets.open(kr)
	if err != nil {
		t.Fatal(err)
	}
	atk, err := mqttConnectAs(s.BrokerURLs()[0], kr.CentralUsername+"-x", kr.CentralUsername, pw)
	if err != nil {
		t.Fatalf("the stolen broker password does not log in: %v", err)
	}
	defer atk.Disconnect(0)
	evil := &protocol.Desired{V: protocol.Version, NodeID: id, Index: 1 << 62, Allocs: []protocol.DesiredAlloc{{
		ID: "evil", JobID: "evil", TaskGroup: "g", JobType: "service", DesiredStatus: protocol.DesiredRun,
		Restart: protocol.RestartPolicy{Attempts: 0, Mode: "fail"},
		Tasks:   []protocol.Task{{Name: "t", Driver: "exec", KillTimeout: 1000}},
	}}}
	if err := protocol.SignDesired(evil, keys...); err != nil {
		t.Fatal(err)
	}
	b, _ := protocol.Encode(evil)
	atk.Publish(protocol.Topics{}.Desired(id), 1, true, b).Wait()
	eventually(t, 10*time.Second, func() error {
		if drv.Starts("evil/t") == 0 {
			return fmt.Errorf("the attacker's desired state has not run (the stolen key was central's)")
		}
		return nil
	})

	// Central's own next desired state is below the attacker's index.
	stale := a.Counters().Stale
	if _, _, err := s.SubmitJob(context.Background(), fakeExecJob("api")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if a.Counters().Stale == stale {
			return fmt.Errorf("central's desired state with job api not refused yet")
		}
		return nil
	})

	// Rotate the key and central's broker password.
	var out map[string]any
	if code := httpJSON(t, "POST", base+"/v1/security/keyring/rotate?broker_password=true", nil, &out); code != http.StatusOK {
		t.Fatalf("rotate: %d", code)
	}
	eventually(t, 10*time.Second, func() error {
		if atk.IsConnectionOpen() {
			return fmt.Errorf("the attacker is still logged in to the broker")
		}
		return nil
	})
	waitRunningAlloc(t, s, drv, "api")
	eventually(t, 10*time.Second, func() error {
		if running(drv, "evil/t") {
			return fmt.Errorf("the attacker's task still runs")
		}
		return nil
	})
}

// fakeExecJob is testJob for the fake driver named exec (no config).
func fakeExecJob(id string) *jobspec.Job {
	j := testJob(1)
	j.ID, j.Name = id, id
	j.TaskGroups[0].Tasks[0].Config = nil
	return j
}

// waitRunningAlloc waits for job's alloc to run on the fake driver and
// returns its ID.
func waitRunningAlloc(t *testing.T, s *Server, drv *fake.Driver, job string) string {
	t.Helper()
	var id string
	eventually(t, 20*time.Second, func() error {
		for _, al := range s.store.AllocsByJob("default", job) {
			if running(drv, al.ID+"/t") {
				id = al.ID
				return nil
			}
		}
		var st []string
		for _, al := range s.store.AllocsByJob("default", job) {
			st = append(st, al.NodeID+":"+al.ClientStatus)
		}
		var nodes []string
		for _, n := range s.store.Nodes() {
			nodes = append(nodes, n.ID+":"+n.Status+fmt.Sprint(n.Drivers))
		}
		return fmt.Errorf("no alloc of %s running on the agent: allocs %v, nodes %v, tasks %v", job, st, nodes, drv.Tasks())
	})
	return id
}

func running(drv *fake.Driver, id string) bool {
	t := drv.Task(id)
	return t != nil && !t.Exited()
}
