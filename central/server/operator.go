package server

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/protocol"
)

// Operator endpoints (served by every server; writes run on the leader):
//
//	POST   /v1/operator/raft/join           a server asks to join (cluster.go)
//	GET    /v1/operator/raft/configuration  Raft peers: id, addresses, leader, voter
//	DELETE /v1/operator/raft/peer?id=ID     remove a server from Raft
//	GET    /v1/operator/snapshot            a snapshot of the state (a file)
//	PUT    /v1/operator/snapshot            restore such a file onto this cluster

// SnapshotFileMagic opens a file written by `central operator snapshot save`:
// the magic line, one JSON line of Raft snapshot metadata, then the
// snapshot itself (Size bytes).
const SnapshotFileMagic = "tether-snapshot-v1\n"

// maxSnapshotMeta bounds the metadata line of a snapshot file.
const maxSnapshotMeta = 1 << 20

// PeerInfo is one Raft peer as /v1/operator/raft/configuration lists it.
type PeerInfo struct {
	ID           string `json:"id"`
	Node         string `json:"node"`
	Address      string `json:"address"` // Raft address
	HTTPAddr     string `json:"http_addr,omitempty"`
	Leader       bool   `json:"leader"`
	Voter        bool   `json:"voter"`
	RaftProtocol string `json:"raft_protocol"`
}

// RaftConfiguration is what /v1/operator/raft/configuration returns.
type RaftConfiguration struct {
	Index   uint64     `json:"index"`
	Servers []PeerInfo `json:"servers"`
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var info ServerInfo
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&info); err != nil {
		writeErr(w, http.StatusBadRequest, "join request: "+err.Error()+" (want {\"id\", \"raft_addr\", \"http_addr\"})")
		return
	}
	if info.ID == "" || info.RaftAddr == "" || info.HTTPAddr == "" || info.Removed {
		writeErr(w, http.StatusBadRequest, "join request: id, raft_addr and http_addr are required")
		return
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if len(f.Configuration().Servers) == 0 {
		// No cluster yet: remember the caller, tell it whom we know.
		s.discoveredAdd(info)
		writeJSONBody(w, joinResponse{Peers: s.discoveredList()})
		return
	}
	if s.raft.State() != raft.Leader {
		s.leaderOnly(http.HandlerFunc(s.handleJoin)).ServeHTTP(w, forceWrite(r, info))
		return
	}
	if err := s.addServer(info); err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSONBody(w, joinResponse{Joined: true})
}

// forceWrite rebuilds a join request (its body was read) for forwarding.
func forceWrite(r *http.Request, info ServerInfo) *http.Request {
	b, _ := json.Marshal(info)
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.ContentLength = int64(len(b))
	return r2
}

func (s *Server) handleRaftConfig(w http.ResponseWriter, r *http.Request) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	_, leaderID := s.raft.LeaderWithID()
	out := RaftConfiguration{Index: f.Index(), Servers: []PeerInfo{}}
	for _, srv := range f.Configuration().Servers {
		p := PeerInfo{ID: string(srv.ID), Node: string(srv.ID), Address: string(srv.Address),
			Leader: srv.ID == leaderID, Voter: srv.Suffrage == raft.Voter, RaftProtocol: strconv.Itoa(raftProtocol)}
		if info, ok := s.reg.get(p.ID); ok {
			p.HTTPAddr = info.HTTPAddr
		}
		out.Servers = append(out.Servers, p)
	}
	writeJSONBody(w, out)
}

func (s *Server) handleRemovePeer(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	addr := r.URL.Query().Get("address")
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	found := ""
	for _, srv := range f.Configuration().Servers {
		if (id != "" && string(srv.ID) == id) || (addr != "" && string(srv.Address) == addr) {
			found = string(srv.ID)
		}
	}
	if found == "" {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no Raft peer with id %q or address %q (see central operator raft list-peers)", id, addr))
		return
	}
	if found == s.cfg.Name {
		writeErr(w, http.StatusBadRequest, "refusing to remove the leader ("+found+"): stop it and remove it from the new leader")
		return
	}
	if err := s.removeServer(found); err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSONBody(w, map[string]string{"removed": found})
}

// handleSnapshotSave takes a fresh snapshot and streams it as a file.
func (s *Server) handleSnapshotSave(w http.ResponseWriter, r *http.Request) {
	f := s.raft.Snapshot()
	if err := f.Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		writeErr(w, http.StatusInternalServerError, "take snapshot: "+err.Error())
		return
	}
	var meta *raft.SnapshotMeta
	var rc io.ReadCloser
	var err error
	if f.Error() == nil {
		meta, rc, err = f.Open()
	} else {
		meta, rc, err = s.latestSnapshot()
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "open snapshot: "+err.Error())
		return
	}
	defer rc.Close()
	mb, _ := json.Marshal(meta)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(int64(len(SnapshotFileMagic)+len(mb)+1)+meta.Size, 10))
	io.WriteString(w, SnapshotFileMagic)
	w.Write(append(mb, '\n'))
	io.Copy(w, rc)
}

// latestSnapshot opens the newest snapshot on disk (when nothing changed
// since it was taken, raft refuses to take another).
func (s *Server) latestSnapshot() (*raft.SnapshotMeta, io.ReadCloser, error) {
	metas, err := s.snaps.List()
	if err != nil {
		return nil, nil, err
	}
	if len(metas) == 0 {
		return nil, nil, errors.New("no snapshot taken yet")
	}
	return s.snaps.Open(metas[0].ID)
}

// handleSnapshotRestore replaces the cluster's state with a snapshot file.
func (s *Server) handleSnapshotRestore(w http.ResponseWriter, r *http.Request) {
	br := bufio.NewReaderSize(r.Body, 64<<10)
	magic := make([]byte, len(SnapshotFileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != SnapshotFileMagic {
		writeErr(w, http.StatusBadRequest, "not a Tether snapshot file (write one with central operator snapshot save)")
		return
	}
	line, err := br.ReadSlice('\n')
	if err != nil || len(line) > maxSnapshotMeta {
		writeErr(w, http.StatusBadRequest, "snapshot file: bad metadata line")
		return
	}
	var meta raft.SnapshotMeta
	if err := json.Unmarshal(line, &meta); err != nil || meta.Size < 0 {
		writeErr(w, http.StatusBadRequest, "snapshot file: bad metadata: "+fmt.Sprint(err))
		return
	}
	s.secrets.restoring.Store(true) // kek.go
	defer s.secrets.restoring.Store(false)
	if err := s.raft.Restore(&meta, br, 5*time.Minute); err != nil {
		writeErr(w, http.StatusInternalServerError, "restore snapshot: "+err.Error())
		return
	}
	// The restored registry may name another cluster's addresses: record
	// ours again (followers do the same from their join loop).
	s.registerSelf()
	out := map[string]any{"restored_index": meta.Index}
	rotated, err := s.rekeyAfterRestore()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "restore snapshot: the state is restored, but its keyring is not usable: "+err.Error())
		s.restartLeading()
		return
	}
	if rotated {
		out["keyring_rotated"] = true
	}
	s.restartLeading()
	writeJSONBody(w, out)
}

// rekeyAfterRestore is the rotate-on-restore (docs/ha.md): a restored
// keyring sealed with a key-encryption key that neither this server nor
// a peer holds (the snapshot came from another cluster, whose
// keyring.kek was not copied here) cannot be opened, so it is replaced:
// a new signing key, starting a new key chain one index above the old
// one (agents enrolled with the old chain must be enrolled again), and a
// new broker password for central (re-export Mosquitto's files).
func (s *Server) rekeyAfterRestore() (bool, error) {
	kr := s.store.Keyring()
	if kr == nil || kr.KEK == "" || kr.KEK == s.secrets.ID() {
		return false, nil // none, legacy (sealed by securitySetup), or ours
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: s.peerTransport()}
	if err := s.fetchKEK(client, kr.KEK); err == nil {
		return false, nil
	}
	k, priv, err := newSigningKey()
	if err != nil {
		return false, err
	}
	next := &state.Keyring{Keys: []state.SigningKey{k}, CentralUsername: kr.CentralUsername,
		Chain: []protocol.KeyLink{{Index: kr.ActiveIndex() + 1, PublicKey: k.Public}}}
	sealed, err := s.secrets.sealKeyring(next, []ed25519.PrivateKey{priv}, randomSecret())
	if err != nil {
		return false, err
	}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{ReplaceKeyring: sealed}}}}); err != nil {
		return false, err
	}
	s.log.Error("the restored keyring was sealed with another cluster's key-encryption key, which no server here holds: "+
		"made a new signing key and central broker password (rotate-on-restore). Enrol the agents again (their pinned key is not in the new chain), "+
		"and re-export Mosquitto's files (central mqtt export-auth). To keep the old keys instead, put the old cluster's "+KEKFile+" in every server's data dir before restoring",
		"old_kek", kr.KEK, "new_kek", sealed.KEK, "key_index", next.Chain[0].Index)
	return true, nil
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
