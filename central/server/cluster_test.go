package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/jobspec"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	// Below the kernel's ephemeral range (32768 and up), which every
	// listener on port 0 in these tests draws from: a port picked there
	// and closed could be taken by another server's Raft or MQTT
	// listener before this one binds it ("address already in use").
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

// testCluster starts n servers (dev Raft timings) that bootstrap together.
func testCluster(t *testing.T, n int) []*Server {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	var out []*Server
	for i := range n {
		var join []string
		for j, a := range addrs {
			if j != i {
				join = append(join, a)
			}
		}
		s, err := New(Config{
			Name: fmt.Sprintf("s%d", i+1), DataDir: t.TempDir(), HTTPAddr: addrs[i], RaftAddr: "127.0.0.1:0",
			MQTTAddr: "127.0.0.1:0", BootstrapExpect: n, Join: join, DevMode: true,
		}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func leaderOf(t *testing.T, servers []*Server) *Server {
	t.Helper()
	var leader *Server
	eventually(t, 20*time.Second, func() error {
		want := ""
		for _, s := range servers {
			l := s.Leader()
			if l == "" || (want != "" && l != want) {
				return fmt.Errorf("%s names leader %q, others %q", s.cfg.Name, l, want)
			}
			want = l
		}
		for _, s := range servers {
			if s.HTTPAddr() == want {
				leader = s
				return nil
			}
		}
		return fmt.Errorf("the leader named, %s, is not one of these servers", want)
	})
	return leader
}

func TestClusterBootstrapsAndForwardsWrites(t *testing.T) {
	servers := testCluster(t, 3)
	leader := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
		}
	}
	if n := len(follower.Members()); n != 3 {
		t.Fatalf("members: %d, want 3", n)
	}
	body := []byte(`{"hcl": "job \"fwd\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n"}`)
	resp, err := http.Post("http://"+follower.HTTPAddr()+"/v1/jobs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("submit through a follower: %s: %s", resp.Status, b)
	}
	for _, s := range servers {
		eventually(t, 5*time.Second, func() error {
			if s.Store().JobByID(jobspec.DefaultNamespace, "fwd") == nil {
				return fmt.Errorf("%s does not have the job", s.cfg.Name)
			}
			return nil
		})
	}

	// The leader goes; the others elect a new one and take writes.
	leader.Close()
	rest := []*Server{}
	for _, s := range servers {
		if s != leader {
			rest = append(rest, s)
		}
	}
	next := leaderOf(t, rest)
	if next == leader {
		t.Fatal("leader did not change")
	}
	// Election, barrier and broker connects: seconds, but allow for a
	// loaded 2-core machine running the whole suite.
	eventually(t, 30*time.Second, func() error {
		if next.currentLeader() == nil {
			return fmt.Errorf("new leader's duties not started")
		}
		return nil
	})
	if next.raft.State() != raft.Leader {
		t.Fatalf("new leader in state %v", next.raft.State())
	}
}

func TestFSMSnapshotCarriesRegistry(t *testing.T) {
	servers := testCluster(t, 1)
	s := leaderOf(t, servers)
	eventually(t, 5*time.Second, func() error {
		if _, ok := s.reg.get("s1"); !ok {
			return fmt.Errorf("leader not registered")
		}
		return nil
	})
	f := s.raft.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	_, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry()
	fresh := &fsm{inner: newStateFSM(), reg: reg}
	if err := fresh.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if info, ok := reg.get("s1"); !ok || info.HTTPAddr != s.HTTPAddr() {
		t.Errorf("restored registry: %+v, %v; want s1 at %s", info, ok, s.HTTPAddr())
	}
	if err := fresh.Restore(io.NopCloser(bytes.NewReader([]byte("TETHRSV1\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")))); err == nil {
		t.Errorf("a snapshot with an absurd registry length was accepted")
	}
}

func newStateFSM() *state.FSM { return state.NewFSM(state.NewStore(), nil) }

func TestAdvertiseReplacesUnspecifiedHost(t *testing.T) {
	cases := []struct{ addr, raft, want string }{
		{"127.0.0.1:7600", "10.0.0.1:7601", "127.0.0.1:7600"},
		{"0.0.0.0:7600", "10.0.0.1:7601", "10.0.0.1:7600"},
		{"[::]:7600", "10.0.0.1:7601", "10.0.0.1:7600"},
		{":7600", "10.0.0.1:7601", "10.0.0.1:7600"},
		{"central-1:7600", "10.0.0.1:7601", "central-1:7600"},
		{"garbage", "10.0.0.1:7601", "garbage"},
	}
	for _, c := range cases {
		if got := advertise(c.addr, c.raft); got != c.want {
			t.Errorf("advertise(%q, %q) = %q, want %q", c.addr, c.raft, got, c.want)
		}
	}
}

// A write through a follower answers only once that follower has applied
// it, also for endpoints that answer without X-Tether-Index (the security
// and operator ones): an agent that enrolled through a follower, or an
// operator who created a token there, reads it back from the same server.
func TestForwardedWriteReadableFromTheFollower(t *testing.T) {
	servers := testCluster(t, 3)
	leader := leaderOf(t, servers)
	for _, follower := range servers {
		if follower == leader {
			continue
		}
		for i := range 20 {
			desc := fmt.Sprintf("%s-%d", follower.cfg.Name, i)
			resp, err := http.Post("http://"+follower.HTTPAddr()+"/v1/security/join-token?description="+desc, "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("join-token create through %s: %s: %s", follower.cfg.Name, resp.Status, b)
			}
			found := false
			for _, jt := range follower.Store().JoinTokens() {
				found = found || jt.Description == desc
			}
			if !found {
				t.Fatalf("%s answered the write of join token %q before applying it", follower.cfg.Name, desc)
			}
		}
	}
}
