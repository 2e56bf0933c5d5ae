package server

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/cli"
	"github.com/tether-edge/tether/central/state"
)

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// raftServer starts one server that bootstraps alone, with cfg's TLS and
// join secret.
func raftServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Name, cfg.DataDir, cfg.DevMode = "s1", t.TempDir(), true
	cfg.HTTPAddr, cfg.RaftAddr, cfg.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	s, err := New(cfg, discardLog, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	eventually(t, 20*time.Second, func() error {
		if s.raft.State() != raft.Leader {
			return fmt.Errorf("s1 is %v", s.raft.State())
		}
		return nil
	})
	return s
}

// forgedDescription marks the join token the forged log entry creates.
const forgedDescription = "forged through the Raft port"

// forgeAppendEntries sends target, through trans, what an intruder on its
// Raft port would: an AppendEntries from a made-up leader with a higher
// term, right after target's last entry, carrying a forged command (here
// a join token: it could as well be a management token or a job) and
// committing it.
func forgeAppendEntries(target *Server, trans raft.Transport, to string) (*raft.AppendEntriesResponse, error) {
	st := target.raft.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(st[k], 10, 64); return v }
	term, last, lastTerm := num("term"), num("last_log_index"), num("last_log_term")
	jt := &state.JoinToken{Hash: strings.Repeat("f", 64), Accessor: "f0f0f0f0", Description: forgedDescription, Created: 1}
	data, err := state.EncodeCommand(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{UpsertJoinToken: jt}}}})
	if err != nil {
		return nil, err
	}
	req := &raft.AppendEntriesRequest{
		RPCHeader:         raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(trans.LocalAddr())},
		Term:              term + 10,
		PrevLogEntry:      last,
		PrevLogTerm:       lastTerm,
		Entries:           []*raft.Log{{Index: last + 1, Term: term + 10, Type: raft.LogCommand, Data: data}},
		LeaderCommitIndex: last + 1,
	}
	var resp raft.AppendEntriesResponse
	err = trans.AppendEntries("s1", raft.ServerAddress(to), req, &resp)
	return &resp, err
}

func hasForgedToken(s *Server) bool {
	for _, jt := range s.Store().JoinTokens() {
		if jt.Description == forgedDescription {
			return true
		}
	}
	return false
}

// plainRaftClient is an intruder's Raft transport: raft's own TCP one.
func plainRaftClient(t *testing.T) raft.Transport {
	t.Helper()
	trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trans.Close() })
	return trans
}

// tlsRaftClient is raft's NetworkTransport dialling with TLS settings cfg.
func tlsRaftClient(t *testing.T, cfg *tls.Config) raft.Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransport(&tlsDialer{Listener: ln, cfg: cfg}, 1, 2*time.Second, io.Discard)
	t.Cleanup(func() { trans.Close() })
	return trans
}

// tlsDialer is a stream layer that only dials, with TLS.
type tlsDialer struct {
	net.Listener
	cfg *tls.Config
}

func (d *tlsDialer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), d.cfg)
}

// secretRaftClient is the transport of a server with join secret secret.
func secretRaftClient(t *testing.T, secret string) raft.Transport {
	t.Helper()
	srv, cli, err := raftTLSFromSecret(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := newRaftStream("127.0.0.1:0", srv, cli, discardLog)
	if err != nil {
		t.Fatal(err)
	}
	trans := raft.NewNetworkTransport(stream, 1, 2*time.Second, io.Discard)
	t.Cleanup(func() { trans.Close() })
	return trans
}

// clientCertFiles makes a client certificate (an agent's or the CLI's)
// with the CA in dir.
func clientCertFiles(t *testing.T, ca string) tls.Certificate {
	t.Helper()
	dir := filepath.Dir(ca)
	var out strings.Builder
	if code := cli.Run([]string{"tls", "cert", "create", "-client", "-out", dir}, &out, &out, func(string) string { return "" }); code != 0 {
		t.Fatalf("central tls cert create -client: %d\n%s", code, out.String())
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "global-client-tether.pem"), filepath.Join(dir, "global-client-tether-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// TestForgedAppendEntriesRefused: an intruder who reaches a server's Raft
// port sends a higher-term AppendEntries with a forged command. With
// neither TLS nor a join secret (the documented insecure default) the
// server applies it; with TLS or a join secret the connection is refused
// before Raft reads it, whatever the intruder holds short of a server
// certificate or the secret, and nothing changes.
func TestForgedAppendEntriesRefused(t *testing.T) {
	t.Run("no TLS, no join secret: accepted (insecure default)", func(t *testing.T) {
		s := raftServer(t, Config{})
		if s.raftStream != nil {
			t.Fatal("an authenticated stream layer without TLS or join secret")
		}
		intruder := plainRaftClient(t)
		eventually(t, 10*time.Second, func() error {
			if _, err := forgeAppendEntries(s, intruder, s.raftAddr); err != nil {
				return err
			}
			if !hasForgedToken(s) {
				return fmt.Errorf("the forged entry is not applied (yet)")
			}
			return nil
		})
	})

	ca, cert, key := tlsFiles(t)
	clientPair := clientCertFiles(t, ca)
	tlsCfg := TLS{CAFile: ca, CertFile: cert, KeyFile: key} // verify_client off: Raft requires certificates anyway
	const secret = "a join secret of this cluster, long enough"
	caPool := func(s *Server) *tls.Config {
		return &tls.Config{RootCAs: s.tls.client.RootCAs, ServerName: "127.0.0.1"}
	}
	cases := []struct {
		name     string
		cfg      Config
		intruder func(t *testing.T, s *Server) raft.Transport
	}{
		{"tls, plain intruder", Config{TLS: tlsCfg}, func(t *testing.T, s *Server) raft.Transport { return plainRaftClient(t) }},
		{"tls, intruder without client certificate", Config{TLS: tlsCfg}, func(t *testing.T, s *Server) raft.Transport { return tlsRaftClient(t, caPool(s)) }},
		{"tls, intruder with an agent's client certificate", Config{TLS: tlsCfg}, func(t *testing.T, s *Server) raft.Transport {
			c := caPool(s)
			c.Certificates = []tls.Certificate{clientPair}
			return tlsRaftClient(t, c)
		}},
		{"tls and join secret, intruder with the secret but no certificate", Config{TLS: tlsCfg, JoinSecret: secret}, func(t *testing.T, s *Server) raft.Transport { return secretRaftClient(t, secret) }},
		{"join secret, plain intruder", Config{JoinSecret: secret}, func(t *testing.T, s *Server) raft.Transport { return plainRaftClient(t) }},
		{"join secret, intruder with another secret", Config{JoinSecret: secret}, func(t *testing.T, s *Server) raft.Transport { return secretRaftClient(t, secret+"!") }},
		{"join secret, intruder speaking TLS without certificate", Config{JoinSecret: secret}, func(t *testing.T, s *Server) raft.Transport {
			return tlsRaftClient(t, &tls.Config{InsecureSkipVerify: true})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := raftServer(t, tc.cfg)
			if s.raftStream == nil {
				t.Fatal("no authenticated stream layer")
			}
			term := s.raft.Stats()["term"]
			intruder := tc.intruder(t, s)
			for i := range 3 {
				if resp, err := forgeAppendEntries(s, intruder, s.raftAddr); err == nil {
					t.Fatalf("attempt %d: the forged AppendEntries got an answer: %+v", i, resp)
				}
			}
			eventually(t, 10*time.Second, func() error {
				if n := s.raftStream.Refused(); n < 3 {
					return fmt.Errorf("%d connections refused, want 3", n)
				}
				return nil
			})
			if hasForgedToken(s) {
				t.Fatal("the forged entry was applied")
			}
			if got := s.raft.Stats()["term"]; got != term || s.raft.State() != raft.Leader {
				t.Fatalf("term %s → %s, state %v: the intruder moved the server", term, got, s.raft.State())
			}
			var metric bool
			for _, m := range s.Metrics() {
				metric = metric || m.Name == "tether_raft_refused_connections_total"
			}
			if !metric {
				t.Error("no tether_raft_refused_connections_total metric")
			}
		})
	}
}

// TestRaftJoinSecretReplayRefused: an intruder records a real, authenticated
// Raft connection (a server with the join secret sending an AppendEntries)
// and replays its bytes to another server of the cluster: each handshake
// is fresh, so the replay is refused and nothing is applied.
func TestRaftJoinSecretReplayRefused(t *testing.T) {
	const secret = "a join secret of this cluster, long enough"
	target := raftServer(t, Config{JoinSecret: secret})
	other := raftServer(t, Config{JoinSecret: secret})

	// A recording proxy in front of other.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex // guards recorded
	var recorded []byte
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", other.raftAddr)
		if err != nil {
			return
		}
		defer up.Close()
		go io.Copy(c, up)
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			mu.Lock()
			recorded = append(recorded, buf[:n]...)
			mu.Unlock()
			if _, werr := up.Write(buf[:n]); err != nil || werr != nil {
				return
			}
		}
	}()
	peer := secretRaftClient(t, secret)
	if _, err := forgeAppendEntries(target, peer, ln.Addr().String()); err != nil {
		t.Fatalf("a peer with the join secret could not talk to a server through the proxy: %v", err)
	}
	mu.Lock()
	replay := append([]byte(nil), recorded...)
	mu.Unlock()

	term := target.raft.Stats()["term"]
	c, err := net.Dial("tcp", target.raftAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(replay)
	io.Copy(io.Discard, c) // until the server closes the connection
	eventually(t, 10*time.Second, func() error {
		if target.raftStream.Refused() == 0 {
			return fmt.Errorf("the replayed connection was not refused")
		}
		return nil
	})
	if hasForgedToken(target) || target.raft.Stats()["term"] != term {
		t.Fatal("the replayed AppendEntries was applied")
	}
}

// authCluster starts n servers that bootstrap together, each with mod
// applied to its configuration.
func authCluster(t testing.TB, n int, mod func(*Config)) []*Server {
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
		// Raft's default timings, not dev mode's: a TLS handshake under
		// the race detector on a loaded machine can take longer than dev
		// mode's 100 ms leader lease, and a new leader opens new
		// connections to each follower.
		cfg := Config{
			Name: fmt.Sprintf("s%d", i+1), DataDir: t.TempDir(), HTTPAddr: addrs[i], RaftAddr: "127.0.0.1:0",
			MQTTAddr: "127.0.0.1:0", BootstrapExpect: n, Join: join,
		}
		mod(&cfg)
		s, err := New(cfg, discardLog, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// TestRaftAuthClusterFailsOver: three servers with TLS, and three with a
// join secret, elect a leader, replicate a write over the authenticated
// transport, and elect a new leader that takes writes when the leader
// goes.
func TestRaftAuthClusterFailsOver(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"tls", func(c *Config) { c.TLS = TLS{CAFile: ca, CertFile: cert, KeyFile: key} }},
		{"join secret", func(c *Config) { c.JoinSecret = "a join secret of this cluster, long enough" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			servers := authCluster(t, 3, tc.mod)
			for _, s := range servers {
				if s.raftStream == nil {
					t.Fatalf("%s: no authenticated stream layer", s.cfg.Name)
				}
			}
			leader := leaderOf(t, servers)
			write := func(s *Server, desc string, on []*Server) {
				t.Helper()
				sum := sha256.Sum256([]byte(desc))
				jt := &state.JoinToken{Hash: hex.EncodeToString(sum[:]), Description: desc, Created: 1}
				if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{UpsertJoinToken: jt}}}}); err != nil {
					t.Fatalf("write on %s: %v", s.cfg.Name, err)
				}
				for _, o := range on {
					eventually(t, 10*time.Second, func() error {
						for _, jt := range o.Store().JoinTokens() {
							if jt.Description == desc {
								return nil
							}
						}
						return fmt.Errorf("%s lacks %q", o.cfg.Name, desc)
					})
				}
			}
			write(leader, "before", servers)

			leader.Close()
			var rest []*Server
			for _, s := range servers {
				if s != leader {
					rest = append(rest, s)
				}
			}
			next := leaderOf(t, rest)
			eventually(t, 30*time.Second, func() error {
				if next.raft.State() != raft.Leader {
					return fmt.Errorf("%s is %v", next.cfg.Name, next.raft.State())
				}
				return nil
			})
			write(next, "after the failover", rest)
		})
	}
}

// TestRaftTLSNeedsCAOrSecret: TLS without ca_file cannot authenticate
// Raft peers: the server refuses to start unless a join secret does.
func TestRaftTLSNeedsCAOrSecret(t *testing.T) {
	_, cert, key := tlsFiles(t)
	cfg := Config{Name: "s1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		TLS: TLS{CertFile: cert, KeyFile: key}}
	if s, err := New(cfg, discardLog, io.Discard); err == nil {
		s.Close()
		t.Fatal("TLS without ca_file and without join secret started")
	} else if !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), "join_secret") {
		t.Fatalf("error %q does not name ca_file and join_secret", err)
	}
	cfg.DataDir, cfg.JoinSecret = t.TempDir(), "a join secret of this cluster, long enough"
	s, err := New(cfg, discardLog, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.raftStream == nil {
		t.Fatal("the join secret does not authenticate Raft")
	}
}

func TestRaftOpenWarning(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7601": false, "[::1]:7601": false, "127.0.0.2:7601": false,
		"10.0.0.1:7601": true, "192.168.1.5:7601": true, "[fd00::1]:7601": true,
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := raftReachableBeyondHost(a); got != want {
			t.Errorf("%s: warn %v, want %v", addr, got, want)
		}
	}
}

// TestRaftStalledHandshakesBounded: connections that never complete their
// handshake hold a slot for at most raftHandshakeTimeout, at most
// maxRaftHandshakesPerIP of them per address (more are refused at once),
// and meanwhile another server still connects.
func TestRaftStalledHandshakesBounded(t *testing.T) {
	const secret = "a join secret of this cluster, long enough"
	s := raftServer(t, Config{JoinSecret: secret})
	from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	var stalled []net.Conn
	for range maxRaftHandshakesPerIP + 1 {
		c, err := from.Dial("tcp", s.raftAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	eventually(t, 10*time.Second, func() error {
		if n := s.raftStream.Refused(); n != 1 {
			return fmt.Errorf("%d connections refused, want the one over the limit", n)
		}
		return nil
	})
	start := time.Now()

	// Another server connects meanwhile (from 127.0.0.1): Raft answers.
	peer := secretRaftClient(t, secret)
	var resp raft.AppendEntriesResponse
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("s2"), Addr: []byte(peer.LocalAddr())}}
	if err := peer.AppendEntries("s1", raft.ServerAddress(s.raftAddr), req, &resp); err != nil {
		t.Fatalf("a server with the join secret could not connect while handshakes stalled: %v", err)
	}
	if resp.Success {
		t.Fatal("a term-0 AppendEntries succeeded")
	}

	// The stalled ones are closed by the handshake deadline.
	for _, c := range stalled {
		c.SetReadDeadline(time.Now().Add(3 * raftHandshakeTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a stalled handshake was not closed within %v: %v", 3*raftHandshakeTimeout, err)
		}
	}
	if waited := time.Since(start); waited > 3*raftHandshakeTimeout {
		t.Fatalf("stalled handshakes closed after %v", waited)
	}
	eventually(t, 10*time.Second, func() error {
		if n := s.raftStream.Refused(); n != maxRaftHandshakesPerIP+1 {
			return fmt.Errorf("%d connections refused, want %d", n, maxRaftHandshakesPerIP+1)
		}
		return nil
	})
}

// TestRaftWithACLsNeedsAuthBeyondLoopback: with ACLs on, plain Raft may
// only listen on loopback (a single server): reachable from other hosts,
// a forged AppendEntries would mint a management token and make the ACLs
// moot, so the server refuses to start, naming the fixes. A join secret
// lets it start.
func TestRaftWithACLsNeedsAuthBeyondLoopback(t *testing.T) {
	cfg := Config{Name: "s1", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", RaftAddr: "0.0.0.0:0", MQTTAddr: "127.0.0.1:0", ACL: true}
	if s, err := New(cfg, discardLog, io.Discard); err == nil {
		s.Close()
		t.Fatal("ACLs on with plain Raft on every address started")
	} else if !strings.Contains(err.Error(), "join_secret") || !strings.Contains(err.Error(), "ca_file") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("error %q does not name join_secret, ca_file and loopback", err)
	}
	cfg.DataDir, cfg.RaftAddr = t.TempDir(), "127.0.0.1:0"
	s, err := New(cfg, discardLog, io.Discard)
	if err != nil {
		t.Fatalf("ACLs on with plain Raft on loopback: %v", err)
	}
	s.Close()
	cfg.DataDir, cfg.RaftAddr, cfg.JoinSecret = t.TempDir(), "127.0.0.1:0", "a join secret of this cluster, long enough"
	if s, err = New(cfg, discardLog, io.Discard); err != nil {
		t.Fatalf("ACLs on with a join secret: %v", err)
	}
	s.Close()
}
