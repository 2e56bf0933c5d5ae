package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/ota/otatest"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

func otaReq(t *testing.T, addr, method, path, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(body))
	if body == nil {
		req, _ = http.NewRequest(method, "http://"+addr+path, nil)
	}
	if token != "" {
		req.Header.Set("X-Tether-Token", token)
	}
	switch {
	case strings.HasPrefix(path, "/v1/agent/release/"):
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Expect", "100-continue") // as the CLI: a refusal comes before the body
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func addRelease(t *testing.T, addr, token, target, version string) *structs.AgentRelease {
	t.Helper()
	data, err := os.ReadFile(otatest.Build(t, target, version, true))
	if err != nil {
		t.Fatal(err)
	}
	code, body := otaReq(t, addr, "PUT", "/v1/agent/release/"+version, token, data)
	if code != 200 {
		t.Fatalf("release add %s %s: %d %s", version, target, code, body)
	}
	var rel structs.AgentRelease
	if err := json.Unmarshal(body, &rel); err != nil {
		t.Fatal(err)
	}
	return &rel
}

// TestAgentReleaseReplicatesAndResumes: a binary added through a follower
// is stored by the leader, fetched by every other server (hash checked),
// and served by each with Range requests, so a cut download resumes.
func TestAgentReleaseReplicatesAndResumes(t *testing.T) {
	servers := testCluster(t, 3)
	l := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != l {
			follower = s
		}
	}
	data, _ := os.ReadFile(otatest.Build(t, protocol.TargetLinuxARMv6, "2.0.0-test", true))
	sum := sha256.Sum256(data)
	// Refused: a version the binary was not built with, and a file that
	// is no agent.
	if code, body := otaReq(t, follower.HTTPAddr(), "PUT", "/v1/agent/release/3.0.0-other", "", data); code != 400 || !bytes.Contains(body, []byte("version")) {
		t.Errorf("wrong version: %d %s", code, body)
	}
	if code, body := otaReq(t, follower.HTTPAddr(), "PUT", "/v1/agent/release/2.0.0-test", "", []byte("#!/bin/sh\n")); code != 400 || !bytes.Contains(body, []byte("not an ELF")) {
		t.Errorf("a script: %d %s", code, body)
	}
	rel := addRelease(t, follower.HTTPAddr(), "", protocol.TargetLinuxARMv6, "2.0.0-test")
	if rel.Target != protocol.TargetLinuxARMv6 || rel.SHA256 != hex.EncodeToString(sum[:]) || rel.Size != int64(len(data)) {
		t.Fatalf("release %+v", rel)
	}
	for _, s := range servers {
		eventually(t, 30*time.Second, func() error {
			b, err := s.releases()
			if err != nil {
				return err
			}
			if !b.Has(rel.SHA256) {
				return fmt.Errorf("%s has not the binary yet", s.cfg.Name)
			}
			return nil
		})
		path := "/v1/agent/release/2.0.0-test/linux/armv6"
		code, whole := otaReq(t, s.HTTPAddr(), "GET", path, "", nil)
		if code != 200 || !bytes.Equal(whole, data) {
			t.Fatalf("%s: download %d, %d bytes, want %d", s.cfg.Name, code, len(whole), len(data))
		}
		// A download cut at half resumes from there.
		half := len(data) / 2
		req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+path, nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", half))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("%s: range: %s", s.cfg.Name, resp.Status)
		}
		got := sha256.Sum256(append(append([]byte(nil), data[:half]...), rest...))
		if got != sum {
			t.Fatalf("%s: resumed download does not hash to the release", s.cfg.Name)
		}
	}
	if code, _ := otaReq(t, l.HTTPAddr(), "GET", "/v1/agent/release/9.9/linux/armv6", "", nil); code != 404 {
		t.Errorf("unknown release: %d", code)
	}
	// Deleting it removes it everywhere.
	eventually(t, 10*time.Second, func() error {
		code, body := otaReq(t, follower.HTTPAddr(), "DELETE", "/v1/agent/release/2.0.0-test", "", nil)
		if code == http.StatusServiceUnavailable { // leadership changing on a loaded machine: the API says retry
			return fmt.Errorf("delete: %d %s", code, body)
		}
		if code != 200 {
			t.Fatalf("delete: %d %s", code, body)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		for _, s := range servers {
			if s.store.AgentRelease("2.0.0-test", protocol.TargetLinuxARMv6) != nil {
				return fmt.Errorf("%s still lists it", s.cfg.Name)
			}
		}
		return nil
	})
}

// TestAgentReleaseAndRolloutNeedManagement: with ACLs on, only a
// management token adds or deletes releases and starts, pauses, resumes
// or aborts rollouts; a download needs none.
func TestAgentReleaseAndRolloutNeedManagement(t *testing.T) {
	s := aclTestServer(t)
	code, body := aclReq(t, s, "POST", "/v1/acl/bootstrap", "")
	if code != 200 {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	var mgmt struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &mgmt)
	// An operator-write client token is not enough.
	if code, body := otaReq(t, s.HTTPAddr(), "PUT", "/v1/acl/policy/ops", mgmt.SecretID, []byte(`{"rules":"operator { policy = \"write\" }\nagent { policy = \"write\" }\nnode { policy = \"write\" }"}`)); code != 200 {
		t.Fatalf("policy: %d %s", code, body)
	}
	code, tb := otaReq(t, s.HTTPAddr(), "POST", "/v1/acl/token", mgmt.SecretID, []byte(`{"name":"ops","policies":["ops"]}`))
	if code != 200 {
		t.Fatalf("token: %d %s", code, tb)
	}
	var client struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal(tb, &client)
	data, _ := os.ReadFile(otatest.Build(t, protocol.TargetLinuxAMD64, "2.0.0-test", true))
	for _, tok := range []string{"", client.SecretID} {
		for _, c := range []struct {
			method, path string
			body         []byte
		}{
			{"PUT", "/v1/agent/release/2.0.0-test", data},
			{"DELETE", "/v1/agent/release/2.0.0-test", nil},
			{"POST", "/v1/agent/rollouts", []byte(`{"version":"2.0.0-test"}`)},
			{"POST", "/v1/agent/rollout/latest/pause", nil},
			{"POST", "/v1/agent/rollout/latest/abort", nil},
		} {
			code, body := otaReq(t, s.HTTPAddr(), c.method, c.path, tok, c.body)
			if code != 403 || !bytes.Contains(body, []byte("management")) {
				t.Errorf("%s %s with token %q: %d %s, want 403 naming management", c.method, c.path, tok, code, body)
			}
		}
	}
	if n := len(s.store.AgentReleases()); n != 0 {
		t.Fatalf("%d releases stored after refusals", n)
	}
	addRelease(t, s.HTTPAddr(), mgmt.SecretID, protocol.TargetLinuxAMD64, "2.0.0-test")
	// Reading needs operator read; downloading needs nothing.
	if code, body := otaReq(t, s.HTTPAddr(), "GET", "/v1/agent/releases", "", nil); code != 403 {
		t.Errorf("list without a token: %d %s", code, body)
	}
	if code, _ := otaReq(t, s.HTTPAddr(), "GET", "/v1/agent/releases", client.SecretID, nil); code != 200 {
		t.Errorf("list with operator read: %d", code)
	}
	if code, body := otaReq(t, s.HTTPAddr(), "GET", "/v1/agent/release/2.0.0-test/linux/amd64", "", nil); code != 200 || !bytes.Equal(body, data) {
		t.Errorf("download without a token: %d", code)
	}
}

// upgradeAgent is a wire agent that says it can upgrade itself.
func upgradeHello(a *wireAgent, version string, reattached bool, failed *protocol.UpgradeFailure) {
	a.publish(a.topics.Hello(a.id), 1, &protocol.Hello{
		V: protocol.Version, NodeID: a.id, Name: "node-" + a.id, Datacenter: "dc1", Version: version,
		Drivers:    []string{"exec"},
		Attributes: map[string]string{"cpu.arch": "arm64", "kernel.name": "linux", protocol.AttrUpgrade: "1"},
		Resources:  protocol.Resources{CPU: 2000, MemoryMB: 1024},
		Reattached: reattached, UpgradeFailed: failed,
	})
}

func startRollout(t *testing.T, addr, body string) *structs.AgentRollout {
	t.Helper()
	code, b := otaReq(t, addr, "POST", "/v1/agent/rollouts", "", []byte(body))
	if code != 200 {
		t.Fatalf("rollout start: %d %s", code, b)
	}
	var ro structs.AgentRollout
	json.Unmarshal(b, &ro)
	return &ro
}

// TestAgentRolloutCanaryFailureHalts: the canary alone gets the order
// (signed, with the release's hash and download URL); it reports the
// version failed (its watchdog rolled back); the rollout fails and no
// other node ever gets the order.
func TestAgentRolloutCanaryFailureHalts(t *testing.T) {
	s := testServer(t, 30*time.Second)
	var agents []*wireAgent
	for i := range 4 {
		a := newWireAgent(t, s, fmt.Sprintf("n%d", i))
		upgradeHello(a, "1.0.0", true, nil)
		agents = append(agents, a)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.Nodes()); n != 4 {
			return fmt.Errorf("%d nodes", n)
		}
		return nil
	})
	rel := addRelease(t, s.HTTPAddr(), "", protocol.TargetLinuxARM64, "2.0.0-test")
	ro := startRollout(t, s.HTTPAddr(), `{"version":"2.0.0-test","canary":1,"max_parallel":"2","health_window":"1m"}`)
	if len(ro.Order) != 4 || ro.MaxParallel != 2 {
		t.Fatalf("rollout %+v", ro)
	}
	canary := agents[0] // nodes in name order
	var order *protocol.AgentUpgrade
	eventually(t, 10*time.Second, func() error {
		d := canary.currentDesired()
		if d == nil || d.Upgrade == nil {
			r := s.store.AgentRolloutByID(ro.ID)
			return fmt.Errorf("no order on the canary yet: %s %v keyring %v", r.Status, r.RolloutCounts(), s.store.Keyring() != nil)
		}
		order = d.Upgrade
		return nil
	})
	kr := s.store.Keyring()
	if err := protocol.VerifyRelease(order.Manifest(), order.ReleaseSig, kr.Keys[0].Public); err != nil {
		t.Errorf("release signature: %v", err)
	}
	if hex.EncodeToString(order.SHA256) != rel.SHA256 || order.Size != rel.Size || order.RolloutID != ro.ID || order.HealthWindowMs != 60_000 {
		t.Errorf("order %+v for release %+v", order, rel)
	}
	if len(order.URLs) == 0 || !strings.HasSuffix(order.URLs[0], "/v1/agent/release/2.0.0-test/linux/arm64") {
		t.Errorf("URLs %v", order.URLs)
	}
	// The watchdog put 1.0.0 back: the agent says so in its hello.
	upgradeHello(canary, "1.0.0", true, &protocol.UpgradeFailure{Version: "2.0.0-test", Reason: "exited at once", RolloutID: ro.ID, RolledBack: true})
	eventually(t, 10*time.Second, func() error {
		if r := s.store.AgentRolloutByID(ro.ID); r.Status != structs.RolloutFailed {
			return fmt.Errorf("rollout %s", r.Status)
		}
		return nil
	})
	r := s.store.AgentRolloutByID(ro.ID)
	if !strings.Contains(r.StatusDescription, "exited at once") {
		t.Errorf("description %q", r.StatusDescription)
	}
	// The order is withdrawn from the canary; the others never had one.
	eventually(t, 10*time.Second, func() error {
		if d := canary.currentDesired(); d == nil || d.Upgrade != nil {
			return fmt.Errorf("canary still ordered")
		}
		return nil
	})
	for _, a := range agents[1:] {
		if d := a.currentDesired(); d != nil && d.Upgrade != nil {
			t.Errorf("%s got the order", a.id)
		}
		if st := r.Nodes[a.id].Status; st != structs.RolloutNodePending {
			t.Errorf("%s is %s", a.id, st)
		}
	}
	// The failed rollout leaves room for another.
	startRollout(t, s.HTTPAddr(), `{"version":"2.0.0-test","max_parallel":"50%"}`)
}

// TestAgentRolloutSurvivesLeaderFailover: the rollout lives in Raft and the
// new leader drives it on: the nodes the old leader had not ordered are
// ordered, judged healthy, and the rollout completes.
func TestAgentRolloutSurvivesLeaderFailover(t *testing.T) {
	servers := testCluster(t, 3)
	l := leaderOf(t, servers)
	addRelease(t, l.HTTPAddr(), "", protocol.TargetLinuxAMD64, "2.0.0-test")
	node := func(i int, version string, reattached bool) *structs.Node {
		return &structs.Node{ID: fmt.Sprintf("node-%d", i), Name: fmt.Sprintf("n%d", i), Datacenter: "dc1", Status: structs.NodeReady,
			Attributes: map[string]string{"cpu.arch": "amd64", "kernel.name": "linux", protocol.AttrUpgrade: "1"},
			Eligible:   true, Version: version, Reattached: reattached}
	}
	var ops []state.Op
	for i := range 4 {
		ops = append(ops, state.Op{UpsertNode: node(i, "1.0.0", true)})
	}
	if _, err := l.apply(&state.Command{Ops: ops}); err != nil {
		t.Fatal(err)
	}
	ro := startRollout(t, l.HTTPAddr(), `{"version":"2.0.0-test","max_parallel":"1","health_window":"10m"}`)
	var first string
	eventually(t, 10*time.Second, func() error {
		r := l.store.AgentRolloutByID(ro.ID)
		for _, id := range r.Order {
			if r.Nodes[id].Status == structs.RolloutNodeUpgrading {
				first = id
				return nil
			}
		}
		return fmt.Errorf("no node upgrading")
	})
	// The leader dies before the first node comes back.
	l.Close()
	var rest []*Server
	for _, s := range servers {
		if s != l {
			rest = append(rest, s)
		}
	}
	nl := leaderOf(t, rest)
	// Each node ordered comes back on 2.0.0-test (a hello through Raft).
	done := map[string]bool{}
	eventually(t, 60*time.Second, func() error {
		r := nl.store.AgentRolloutByID(ro.ID)
		if r.Status == structs.RolloutComplete {
			return nil
		}
		if r.Status != structs.RolloutRunning {
			return fmt.Errorf("rollout %s: %s", r.Status, r.StatusDescription)
		}
		upgrading := 0
		for _, id := range r.Order {
			if r.Nodes[id].Status != structs.RolloutNodeUpgrading {
				continue
			}
			upgrading++
			if !done[id] {
				var i int
				fmt.Sscanf(id, "node-%d", &i)
				if _, err := nl.apply(&state.Command{Ops: []state.Op{{UpsertNode: node(i, "2.0.0-test", true)}}}); err != nil {
					return err
				}
				done[id] = true
			}
		}
		if upgrading > 1 {
			t.Fatalf("%d nodes upgrading at once, max parallel 1", upgrading)
		}
		return fmt.Errorf("rollout running: %v", r.RolloutCounts())
	})
	r := nl.store.AgentRolloutByID(ro.ID)
	if c := r.RolloutCounts(); c[structs.RolloutNodeHealthy] != 4 {
		t.Errorf("counts %v", c)
	}
	if !done[first] {
		t.Errorf("the node ordered by the old leader was not judged by the new one")
	}
}

// TestAgentRolloutPauseAbortAndDownloadGate: a paused rollout orders
// nobody; abort withdraws the orders given; a server serving its maximum
// of downloads answers 503 with Retry-After.
func TestAgentRolloutPauseAbortAndDownloadGate(t *testing.T) {
	s := testServer(t, 30*time.Second)
	var agents []*wireAgent
	for i := range 3 {
		a := newWireAgent(t, s, fmt.Sprintf("p%d", i))
		upgradeHello(a, "1.0.0", true, nil)
		agents = append(agents, a)
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.Nodes()); n != 3 {
			return fmt.Errorf("%d nodes", n)
		}
		return nil
	})
	addRelease(t, s.HTTPAddr(), "", protocol.TargetLinuxARM64, "2.0.0-test")
	ro := startRollout(t, s.HTTPAddr(), `{"version":"2.0.0-test","max_parallel":"1"}`)
	eventually(t, 10*time.Second, func() error {
		if d := agents[0].currentDesired(); d == nil || d.Upgrade == nil {
			return fmt.Errorf("no order on the first node yet")
		}
		return nil
	})
	if code, body := otaReq(t, s.HTTPAddr(), "POST", "/v1/agent/rollout/"+ro.ID[:8]+"/pause", "", nil); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	// The first node comes back healthy; paused, nobody else is ordered.
	upgradeHello(agents[0], "2.0.0-test", true, nil)
	eventually(t, 10*time.Second, func() error {
		if st := s.store.AgentRolloutByID(ro.ID).Nodes[agents[0].id].Status; st != structs.RolloutNodeHealthy {
			return fmt.Errorf("first node %s", st)
		}
		return nil
	})
	// The step that judged it healthy would have ordered the next node
	// in the same update, were the rollout running.
	if c := s.store.AgentRolloutByID(ro.ID).RolloutCounts(); c[structs.RolloutNodeUpgrading] != 0 {
		t.Fatalf("a paused rollout ordered a node: %v", c)
	}
	if code, body := otaReq(t, s.HTTPAddr(), "POST", "/v1/agent/rollout/latest/resume", "", nil); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	eventually(t, 10*time.Second, func() error {
		if d := agents[1].currentDesired(); d == nil || d.Upgrade == nil {
			return fmt.Errorf("no order on the second node after resume")
		}
		return nil
	})
	if code, body := otaReq(t, s.HTTPAddr(), "POST", "/v1/agent/rollout/latest/abort", "", nil); code != 200 {
		t.Fatalf("abort: %d %s", code, body)
	}
	eventually(t, 10*time.Second, func() error {
		if d := agents[1].currentDesired(); d == nil || d.Upgrade != nil {
			return fmt.Errorf("the second node's order is not withdrawn")
		}
		return nil
	})
	if r := s.store.AgentRolloutByID(ro.ID); r.Status != structs.RolloutAborted || r.Nodes[agents[1].id].Status != structs.RolloutNodeCancelled {
		t.Fatalf("after abort: %s, second node %s", r.Status, r.Nodes[agents[1].id].Status)
	}
	if code, _ := otaReq(t, s.HTTPAddr(), "POST", "/v1/agent/rollout/latest/resume", "", nil); code != 409 {
		t.Errorf("resume of an aborted rollout: %d, want 409", code)
	}

	// The download gate.
	for range maxDownloads {
		s.ota.slots <- struct{}{}
	}
	req, _ := http.NewRequest("GET", "http://"+s.HTTPAddr()+"/v1/agent/release/2.0.0-test/linux/arm64", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("download over the limit: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	for range maxDownloads {
		<-s.ota.slots
	}
	if code, _ := otaReq(t, s.HTTPAddr(), "GET", "/v1/agent/release/2.0.0-test/linux/arm64", "", nil); code != 200 {
		t.Errorf("download under the limit: %d", code)
	}
}
