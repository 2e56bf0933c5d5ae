package server

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Raft timings at RaftMultiplier 1 (hashicorp/raft's defaults). A follower
// starts an election between heartbeatTimeout and twice that after the
// leader's last contact.
const (
	heartbeatTimeout   = 1000 * time.Millisecond
	electionTimeout    = 1000 * time.Millisecond
	leaderLeaseTimeout = 500 * time.Millisecond
)

// raftLogCache is how many recent Raft entries are kept in memory for
// replication. Most entries are small batches; a plan placing a system
// job on 10,000 nodes is a few MB, so the cache is kept short: a follower
// further behind reads the bolt file, as before.
const raftLogCache = 64

// openRaft opens (or creates) this server's Raft node in DataDir/raft and,
// on a fresh data dir of a single server (bootstrap_expect = 1, nothing to
// join), bootstraps a one-server cluster. Larger clusters bootstrap from
// the join loop (cluster.go) once bootstrap_expect servers know each other.
func (s *Server) openRaft(fsm raft.FSM, logOut io.Writer) error {
	dir := filepath.Join(s.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: create raft dir: %w", err)
	}
	logStore, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		return fmt.Errorf("server: open raft log %s: %w", filepath.Join(dir, "raft.db"), err)
	}
	s.closers = append(s.closers, logStore.Close)
	// The leader sends each new entry to every follower: from memory, not
	// read back and decoded from the bolt file once per follower (that was
	// 13 % of the leader's CPU placing a system job on 10,000 simulated
	// agents, docs/scale.md).
	logs, err := raft.NewLogCache(raftLogCache, logStore)
	if err != nil {
		return fmt.Errorf("server: raft log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, logOut)
	if err != nil {
		return fmt.Errorf("server: open raft snapshots: %w", err)
	}
	s.snaps = snaps
	trans, err := s.raftTransport(logOut)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, trans.Close)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.Name)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: logOut, Level: hclog.Warn})
	rc.SnapshotThreshold = 8192
	rc.TrailingLogs = 10240
	m := time.Duration(s.cfg.RaftMultiplier)
	rc.HeartbeatTimeout = heartbeatTimeout * m
	rc.ElectionTimeout = electionTimeout * m
	rc.LeaderLeaseTimeout = leaderLeaseTimeout * m
	if s.cfg.RaftSnapshotThreshold > 0 { // tests: compact the log early
		rc.SnapshotThreshold = uint64(s.cfg.RaftSnapshotThreshold)
		rc.TrailingLogs = uint64(s.cfg.RaftSnapshotThreshold)
		rc.SnapshotInterval = time.Second
	}
	if s.cfg.DevMode {
		rc.HeartbeatTimeout = 200 * time.Millisecond
		rc.ElectionTimeout = 200 * time.Millisecond
		rc.LeaderLeaseTimeout = 100 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}

	existing, err := raft.HasExistingState(logs, logStore, snaps)
	if err != nil {
		return fmt.Errorf("server: read raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, fsm, logs, logStore, snaps, trans)
	if err != nil {
		return fmt.Errorf("server: start raft: %w", err)
	}
	s.raft = r
	s.raftAddr = string(trans.LocalAddr())
	s.hadState = existing
	if !existing && s.cfg.BootstrapExpect == 1 {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: rc.LocalID, Address: trans.LocalAddr(),
		}}})
		if err := f.Error(); err != nil && err != raft.ErrCantBootstrap {
			return fmt.Errorf("server: bootstrap raft: %w", err)
		}
	}
	return nil
}

// raftTransport listens on RaftAddr. With TLS or a join secret every
// connection authenticates first (raftauth.go, raftstream.go); with
// neither it is plain TCP, and a warning when that is reachable beyond
// this machine.
func (s *Server) raftTransport(logOut io.Writer) (*raft.NetworkTransport, error) {
	addr, err := net.ResolveTCPAddr("tcp", s.cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("server: raft address %q: %w", s.cfg.RaftAddr, err)
	}
	srvTLS, cliTLS, mode, err := s.raftTLS()
	if err != nil {
		return nil, err
	}
	if mode == raftAuthNone {
		if raftReachableBeyondHost(addr) && s.cfg.ACL {
			return nil, fmt.Errorf("server: ACLs are on but Raft listens on %s without authentication: anyone who reaches that port could write a management token into the cluster's state; set the same join_secret (-join-secret) on every server, or a tls block with ca_file, or keep Raft on loopback (-raft 127.0.0.1:7601) for a single server (docs/ha.md)", s.cfg.RaftAddr)
		}
		var advertise net.Addr = addr
		if addr.Port == 0 {
			advertise = nil // advertise the port the listener got
		}
		trans, err := raft.NewTCPTransport(s.cfg.RaftAddr, advertise, 3, 10*time.Second, logOut)
		if err != nil {
			return nil, fmt.Errorf("server: raft listen on %s: %w (pick another with -raft)", s.cfg.RaftAddr, err)
		}
		if raftReachableBeyondHost(addr) {
			s.log.Warn("Raft listens on "+s.cfg.RaftAddr+" without authentication: anyone who reaches this port can rewrite the cluster's state (jobs, ACL tokens); set a tls block with ca_file, or the same join_secret (-join-secret), on every server (docs/ha.md)",
				"raft", s.cfg.RaftAddr)
		}
		return trans, nil
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		return nil, fmt.Errorf("server: raft address %q: give the IP address the other servers reach this one at (e.g. -raft 10.0.0.1:7601), not an unspecified one", s.cfg.RaftAddr)
	}
	stream, err := newRaftStream(s.cfg.RaftAddr, srvTLS, cliTLS, s.log)
	if err != nil {
		return nil, fmt.Errorf("server: raft listen on %s: %w (pick another with -raft)", s.cfg.RaftAddr, err)
	}
	s.raftStream = stream
	if mode == raftAuthSecret && len(s.cfg.JoinSecret) < minJoinSecretLen {
		s.log.Warn(fmt.Sprintf("join_secret is %d characters: it authenticates the Raft transport, and a short one can be guessed offline by anyone who reaches a Raft port; use a random one of at least %d (openssl rand -base64 32)", len(s.cfg.JoinSecret), minJoinSecretLen))
	}
	s.log.Info("Raft connections authenticate their peer", "by", mode, "raft", stream.Addr().String())
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: logOut, Level: hclog.DefaultLevel}),
	}), nil
}

// raftReachableBeyondHost reports whether a Raft listener on addr can be
// reached from other machines (anything but a loopback address).
func raftReachableBeyondHost(addr *net.TCPAddr) bool { return !addr.IP.IsLoopback() }
