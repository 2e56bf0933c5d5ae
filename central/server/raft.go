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

// openRaft opens (or creates) this server's Raft node in DataDir/raft and,
// on a fresh data dir, bootstraps a single-server cluster.
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
	snaps, err := raft.NewFileSnapshotStore(dir, 2, logOut)
	if err != nil {
		return fmt.Errorf("server: open raft snapshots: %w", err)
	}
	addr, err := net.ResolveTCPAddr("tcp", s.cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("server: raft address %q: %w", s.cfg.RaftAddr, err)
	}
	trans, err := raft.NewTCPTransport(s.cfg.RaftAddr, addr, 3, 10*time.Second, logOut)
	if err != nil {
		return fmt.Errorf("server: raft listen on %s: %w (pick another with -raft)", s.cfg.RaftAddr, err)
	}
	s.closers = append(s.closers, trans.Close)

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.Name)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: logOut, Level: hclog.Warn})
	rc.SnapshotThreshold = 8192
	rc.TrailingLogs = 10240
	if s.cfg.DevMode {
		rc.HeartbeatTimeout = 200 * time.Millisecond
		rc.ElectionTimeout = 200 * time.Millisecond
		rc.LeaderLeaseTimeout = 100 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
	}

	existing, err := raft.HasExistingState(logStore, logStore, snaps)
	if err != nil {
		return fmt.Errorf("server: read raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, fsm, logStore, logStore, snaps, trans)
	if err != nil {
		return fmt.Errorf("server: start raft: %w", err)
	}
	s.raft = r
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
