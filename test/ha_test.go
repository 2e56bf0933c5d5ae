package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// haServer is one `central server` of an HA cluster.
type haServer struct {
	name, http, raft, mqtt string
	args                   []string
	p                      *proc
}

// haCluster is a cluster of central servers started as real processes.
type haCluster struct {
	t       *testing.T
	dir     string
	servers []*haServer
	agents  []*proc
	client  *http.Client
}

// startHA starts n servers with bootstrap_expect = n that find each other
// through -join. extra adds flags per server (brokers, sites, ...).
func startHA(t *testing.T, n int, extra func(i int) []string) *haCluster {
	t.Helper()
	h := &haCluster{t: t, dir: t.TempDir(), client: &http.Client{Timeout: 15 * time.Second}}
	for i := range n {
		h.servers = append(h.servers, &haServer{
			name: fmt.Sprintf("s%d", i+1),
			http: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			raft: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			mqtt: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		})
	}
	for i, s := range h.servers {
		s.args = []string{"server", "-name", s.name, "-data-dir", filepath.Join(h.dir, s.name),
			"-http", s.http, "-raft", s.raft, "-bootstrap-expect", fmt.Sprint(n),
			"-heartbeat-ttl", "3s", "-heartbeat-grace", "2s"}
		for _, o := range h.servers {
			if o != s {
				s.args = append(s.args, "-join", o.http)
			}
		}
		if extra != nil {
			s.args = append(s.args, extra(i)...)
		}
		if !slicesContain(s.args, "-broker") {
			s.args = append(s.args, "-mqtt", s.mqtt)
		}
		s.p = start(t, "central "+s.name, bins.central, s.args...)
	}
	h.waitLeader(30 * time.Second)
	return h
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// live returns the servers whose process runs.
func (h *haCluster) live() []*haServer {
	var out []*haServer
	for _, s := range h.servers {
		if !s.p.exited() {
			out = append(out, s)
		}
	}
	return out
}

// waitLeader waits until every live server names the same leader, and
// returns it.
func (h *haCluster) waitLeader(timeout time.Duration) *haServer {
	h.t.Helper()
	var leader *haServer
	eventually(h.t, timeout, func() error {
		names := map[string]bool{}
		for _, s := range h.live() {
			var addr string
			if err := h.getFrom(s, "/v1/status/leader", &addr); err != nil {
				return err
			}
			if addr == "" {
				return fmt.Errorf("%s knows no leader", s.name)
			}
			names[addr] = true
		}
		if len(names) != 1 {
			return fmt.Errorf("servers disagree on the leader: %v", names)
		}
		for _, s := range h.live() {
			if names[s.http] {
				leader = s
				return nil
			}
		}
		return fmt.Errorf("the leader named is not a live server: %v", names)
	})
	return leader
}

func (h *haCluster) getFrom(s *haServer, path string, v any) error {
	resp, err := h.client.Get("http://" + s.http + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s from %s: %s: %s", path, s.name, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// get reads from the first live server that answers.
func (h *haCluster) get(path string, v any) error {
	var errs []error
	for _, s := range h.live() {
		err := h.getFrom(s, path, v)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// submit posts a job file to one server; nil means acknowledged.
func (h *haCluster) submit(s *haServer, hcl string) error {
	b, _ := json.Marshal(map[string]string{"hcl": hcl})
	resp, err := h.client.Post("http://"+s.http+"/v1/jobs", "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("submit via %s: %s: %s", s.name, resp.Status, body)
	}
	return nil
}

// cli runs the central CLI against server s.
func (h *haCluster) cli(s *haServer, args ...string) (string, int) {
	cmd := exec.Command(bins.central, args...)
	cmd.Env = append(os.Environ(), "CENTRAL_ADDR=http://"+s.http)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("run central %v: %v", args, err)
	}
	return string(out), 0
}

// startAgent starts an agent of datacenter dc on the given brokers. Before
// it is stopped every job is purged and its tasks killed.
func (h *haCluster) startAgent(name, dc string, brokers ...string) *proc {
	h.t.Helper()
	args := []string{"-name", name, "-datacenter", dc, "-data-dir", filepath.Join(h.dir, "agent-"+name),
		"-heartbeat", "1s", "-advertise", "127.0.0.1"}
	for _, b := range brokers {
		args = append(args, "-broker", b)
	}
	p := start(h.t, "agent "+name, bins.agent, args...)
	h.agents = append(h.agents, p)
	h.t.Cleanup(func() {
		h.purgeJobs()
		killChildGroups(p.cmd.Process.Pid)
	})
	return p
}

func (h *haCluster) purgeJobs() {
	var jobs []struct {
		ID string `json:"id"`
	}
	if h.get("/v1/jobs", &jobs) != nil {
		return
	}
	live := h.live()
	if len(live) == 0 {
		return
	}
	for _, j := range jobs {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+live[0].http+"/v1/job/"+j.ID+"?purge=true", nil)
		if resp, err := h.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
}

func (h *haCluster) waitNodes(timeout time.Duration, names ...string) {
	h.t.Helper()
	eventually(h.t, timeout, func() error {
		var nodes []node
		if err := h.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		status := map[string]string{}
		for _, n := range nodes {
			status[n.Name] = n.Status
		}
		for _, name := range names {
			if status[name] != "ready" {
				return fmt.Errorf("node %s is %q, want ready", name, status[name])
			}
		}
		return nil
	})
}

// sleepJob is a one-alloc service job in datacenter dc whose exec task
// sleeps.
func sleepJob(id, dc string) string {
	return fmt.Sprintf(`job %q {
  datacenters = [%q]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 5
        memory = 4
      }
    }
  }
}
`, id, dc)
}

// serviceJob is sleepJob with a group service on a dynamic port.
func serviceJob(id, dc string) string {
	return fmt.Sprintf(`job %q {
  datacenters = [%q]
  group "g" {
    network {
      port "http" {}
    }
    service {
      name = %q
      port = "http"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
      resources {
        cpu    = 5
        memory = 4
      }
    }
  }
}
`, id, dc, id+"-svc")
}

// TestHALeaderKilledDuringSubmissions: three servers share a Mosquitto;
// the leader is killed with SIGKILL while a client submits 200 jobs in a
// loop (to any server, retrying). Every acknowledged job ends up with
// exactly one allocation, running, and no task restarted.
func TestHALeaderKilledDuringSubmissions(t *testing.T) {
	mq := startMosquitto(t)
	h := startHA(t, 3, func(int) []string { return []string{"-broker", mq} })
	h.startAgent("edge-1", "dc1", mq)
	h.startAgent("edge-2", "dc1", mq)
	h.waitNodes(30*time.Second, "edge-1", "edge-2")

	leader := h.waitLeader(10 * time.Second)
	if err := h.submit(leader, serviceJob("web", "dc1")); err != nil {
		t.Fatal(err)
	}
	const jobs = 200
	acked := map[string]bool{}
	for i := range jobs {
		id := fmt.Sprintf("j%03d", i)
		if i == 60 {
			t.Logf("killing the leader %s", leader.name)
			leader.p.stop(syscall.SIGKILL)
		}
		deadline := time.Now().Add(30 * time.Second)
		for n := 0; ; n++ {
			live := h.live()
			if err := h.submit(live[(i+n)%len(live)], sleepJob(id, "dc1")); err == nil {
				acked[id] = true
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("job %s not acknowledged within 30s: %v", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	newLeader := h.waitLeader(20 * time.Second)
	if newLeader == leader {
		t.Fatalf("leader did not change")
	}

	eventually(t, 90*time.Second, func() error {
		var allocs []struct {
			alloc
			JobID string `json:"job_id"`
		}
		if err := h.get("/v1/allocations", &allocs); err != nil {
			return err
		}
		byJob := map[string]int{}
		for _, a := range allocs {
			byJob[a.JobID]++
			if a.ClientStatus != "running" {
				return fmt.Errorf("allocation %s of %s is %s", a.ID, a.JobID, a.ClientStatus)
			}
			for task, ts := range a.TaskStates {
				if ts.Restarts != 0 {
					t.Fatalf("task %s of %s restarted %d times", task, a.JobID, ts.Restarts)
				}
			}
		}
		acked["web"] = true
		for id := range acked {
			if byJob[id] != 1 {
				return fmt.Errorf("acknowledged job %s has %d allocations, want 1", id, byJob[id])
			}
		}
		for id, n := range byJob {
			if n != 1 {
				return fmt.Errorf("job %s has %d allocations, want 1", id, n)
			}
		}
		return nil
	})
	h.waitNodes(5*time.Second, "edge-1", "edge-2")
	eventually(t, 20*time.Second, func() error {
		var svcs []map[string]any
		if err := h.get("/v1/service/web-svc", &svcs); err != nil {
			return err
		}
		if len(svcs) != 1 {
			return fmt.Errorf("service web-svc has %d instances, want 1", len(svcs))
		}
		return nil
	})
	// The new leader republished the service set, retained, on the broker.
	retained := make(chan []byte, 1)
	rc := paho.NewClient(paho.NewClientOptions().AddBroker(mq).SetClientID("ha-test-svc"))
	if tok := rc.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", mq, tok.Error())
	}
	defer rc.Disconnect(0)
	rc.Subscribe("tether/v1/svc/web-svc", 1, func(_ paho.Client, m paho.Message) {
		select {
		case retained <- m.Payload():
		default:
		}
	})
	select {
	case <-retained:
	case <-time.After(10 * time.Second):
		t.Errorf("no retained service set for web-svc on the broker after the failover")
	}

	// Snapshot save on this cluster, restore onto a fresh one-server
	// cluster: the same jobs and allocations.
	file := filepath.Join(t.TempDir(), "state.snap")
	if out, code := h.cli(h.live()[0], "operator", "snapshot", "save", file); code != 0 {
		t.Fatalf("snapshot save exited %d:\n%s", code, out)
	}
	fresh := startHA(t, 1, nil)
	if out, code := fresh.cli(fresh.servers[0], "operator", "snapshot", "restore", file); code != 0 {
		t.Fatalf("snapshot restore exited %d:\n%s", code, out)
	}
	for _, path := range []string{"/v1/jobs", "/v1/allocations", "/v1/services"} {
		want, got := idsOf(t, h, path), idsOf(t, fresh, path)
		if strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%s after restore: %d entries, want %d (%v...)", path, len(got), len(want), head(got))
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func idsOf(t *testing.T, h *haCluster, path string) []string {
	t.Helper()
	var rows []map[string]any
	if err := h.get(path, &rows); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		id := fmt.Sprint(r["id"])
		if r["id"] == nil {
			id = fmt.Sprint(r["service_name"])
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// TestHAFollowerCatchesUpBySnapshot: a follower is stopped, many writes
// follow and the log is compacted; restarted, it catches up from a
// snapshot, and remove-peer takes a server out of the configuration.
func TestHAFollowerCatchesUpBySnapshot(t *testing.T) {
	h := startHA(t, 3, func(int) []string { return []string{"-raft-snapshot-threshold", "32"} })
	leader := h.waitLeader(10 * time.Second)
	var follower *haServer
	for _, s := range h.servers {
		if s != leader {
			follower = s
		}
	}
	follower.p.stop(syscall.SIGTERM)
	const jobs = 150
	for i := range jobs {
		if err := h.submit(leader, sleepJob(fmt.Sprintf("c%03d", i), "dc1")); err != nil {
			t.Fatal(err)
		}
	}
	// Wait for the leader to compact its log past what the follower has.
	eventually(t, 30*time.Second, func() error {
		snaps, _ := filepath.Glob(filepath.Join(h.dir, leader.name, "raft", "snapshots", "*", "meta.json"))
		if len(snaps) == 0 {
			return fmt.Errorf("the leader has taken no snapshot yet")
		}
		return nil
	})
	follower.p = start(t, "central "+follower.name+" (restarted)", bins.central, follower.args...)
	eventually(t, 30*time.Second, func() error {
		var js []map[string]any
		if err := h.getFrom(follower, "/v1/jobs", &js); err != nil {
			return err
		}
		if len(js) != jobs {
			return fmt.Errorf("restarted follower has %d jobs, want %d", len(js), jobs)
		}
		return nil
	})
	if !strings.Contains(follower.p.out.String(), "restored state from snapshot") {
		t.Errorf("the follower caught up without a snapshot; its log:\n%s", follower.p.out.String())
	}

	eventually(t, 10*time.Second, func() error {
		out, code := h.cli(follower, "server", "members")
		if code != 0 || strings.Count(out, "alive") != 3 || !strings.Contains(out, "Raft Version") {
			return fmt.Errorf("server members exited %d:\n%s", code, out)
		}
		return nil
	})
	follower.p.stop(syscall.SIGKILL)
	if out, code := h.cli(leader, "operator", "raft", "remove-peer", "-peer-id", follower.name); code != 0 {
		t.Fatalf("remove-peer exited %d:\n%s", code, out)
	}
	out, code := h.cli(leader, "operator", "raft", "list-peers")
	if code != 0 || strings.Contains(out, follower.name+" ") || strings.Count(out, "true") != 2 {
		t.Errorf("list-peers after remove-peer exited %d:\n%s", code, out)
	}
}

// TestHATwoSites: one Mosquitto per datacenter, every server connected to
// both. Jobs of each datacenter land on that site's agent; killing one
// site's broker leaves the other site working.
func TestHATwoSites(t *testing.T) {
	mq1 := startMosquitto(t)
	mq2, mq2proc := startMosquittoProc(t)
	h := startHA(t, 3, func(int) []string { return []string{"-site", "dc1=" + mq1, "-site", "dc2=" + mq2} })
	h.startAgent("east", "dc1", mq1)
	h.startAgent("west", "dc2", mq2)
	h.waitNodes(30*time.Second, "east", "west")
	nodeIDs := map[string]string{}
	var nodes []node
	if err := h.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		nodeIDs[n.ID] = n.Name
	}
	leader := h.waitLeader(5 * time.Second)
	waitRunningOn := func(job, name string) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			var as []alloc
			if err := h.get("/v1/job/"+job+"/allocations", &as); err != nil {
				return err
			}
			if len(as) != 1 || as[0].ClientStatus != "running" || nodeIDs[as[0].NodeID] != name {
				return fmt.Errorf("allocations of %s: %+v, want one running on %s", job, as, name)
			}
			return nil
		})
	}
	for _, j := range [][3]string{{"in-dc1", "dc1", "east"}, {"in-dc2", "dc2", "west"}} {
		if err := h.submit(leader, sleepJob(j[0], j[1])); err != nil {
			t.Fatal(err)
		}
		waitRunningOn(j[0], j[2])
	}

	// Cut dc2's broker: dc1 keeps working.
	mq2proc.stop(syscall.SIGKILL)
	if err := h.submit(leader, sleepJob("in-dc1-after", "dc1")); err != nil {
		t.Fatal(err)
	}
	waitRunningOn("in-dc1-after", "east")
	h.waitNodes(5*time.Second, "east")
}

// TestHAEmbeddedBrokers: three servers each with its embedded broker; the
// agent lists all three and survives the loss of the server whose broker
// it was on: it stays ready, its task does not restart, and its desired
// state is retained on the broker it moved to.
func TestHAEmbeddedBrokers(t *testing.T) {
	h := startHA(t, 3, nil)
	var urls []string
	for _, s := range h.servers {
		urls = append(urls, "tcp://"+s.mqtt)
	}
	h.startAgent("edge", "dc1", urls...)
	h.waitNodes(30*time.Second, "edge")
	if err := h.submit(h.live()[0], sleepJob("emb", "dc1")); err != nil {
		t.Fatal(err)
	}
	var first alloc
	eventually(t, 30*time.Second, func() error {
		var as []alloc
		if err := h.get("/v1/job/emb/allocations", &as); err != nil {
			return err
		}
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		first = as[0]
		return nil
	})
	// The agent connects to the first broker it lists: s1's.
	h.servers[0].p.stop(syscall.SIGKILL)
	h.waitLeader(20 * time.Second)
	// Its desired state is retained on s2's broker.
	got := make(chan []byte, 1)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(urls[1]).SetClientID("ha-test-reader"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", urls[1], tok.Error())
	}
	defer c.Disconnect(0)
	c.Subscribe("tether/v1/node/"+first.NodeID+"/desired", 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	})
	select {
	case b := <-got:
		if !bytes.Contains(b, []byte(first.ID)) {
			t.Errorf("retained desired state on %s does not name allocation %s", urls[1], first.ID)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("no retained desired state for node %s on %s", first.NodeID, urls[1])
	}
	eventually(t, 30*time.Second, func() error {
		var as []alloc
		if err := h.get("/v1/job/emb/allocations", &as); err != nil {
			return err
		}
		if len(as) != 1 || as[0].ID != first.ID || as[0].ClientStatus != "running" || as[0].TaskStates["t"].Restarts != 0 {
			return fmt.Errorf("allocations after losing s1: %+v", as)
		}
		return nil
	})
	h.waitNodes(10*time.Second, "edge")
}

// execAllocBehindFollower starts a 3-server cluster with one agent on the
// leader's broker, runs job (one exec task running script with /bin/sh)
// and returns the cluster, a follower and the job's running allocation.
func execAllocBehindFollower(t *testing.T, job, script string) (*haCluster, *haServer, string) {
	t.Helper()
	h := startHA(t, 3, nil)
	leader := h.waitLeader(20 * time.Second)
	h.startAgent("edge", "dc1", "tcp://"+leader.mqtt)
	h.waitNodes(30*time.Second, "edge")
	if err := h.submit(leader, fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", %q]
      }
    }
  }
}`, job, script)); err != nil {
		t.Fatal(err)
	}
	var id string
	eventually(t, 30*time.Second, func() error {
		var as []alloc
		if err := h.get("/v1/job/"+job+"/allocations", &as); err != nil {
			return err
		}
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		id = as[0].ID
		return nil
	})
	for _, s := range h.live() {
		if s != leader {
			return h, s, id
		}
	}
	t.Fatal("no follower")
	return nil, nil, ""
}

// Task logs come through the leader's broker connection; `alloc logs`
// against a follower is relayed to the leader and streamed back, -f
// included, instead of a 503.
func TestHALogsThroughAFollower(t *testing.T) {
	h, follower, id := execAllocBehindFollower(t, "talk", `echo hello-through-a-follower; exec sleep 300`)
	eventually(t, 20*time.Second, func() error {
		out, code := h.cli(follower, "alloc", "logs", id)
		if code != 0 || !strings.Contains(out, "hello-through-a-follower") {
			return fmt.Errorf("alloc logs through %s exited %d: %s", follower.name, code, out)
		}
		return nil
	})
	// A follow through the follower streams as the leader sends.
	cmd := exec.Command(bins.central, "alloc", "logs", "-f", id)
	cmd.Env = append(os.Environ(), "CENTRAL_ADDR=http://"+follower.http)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(out.String(), "hello-through-a-follower") {
			return fmt.Errorf("alloc logs -f through %s printed %q", follower.name, out.String())
		}
		return nil
	})
}
