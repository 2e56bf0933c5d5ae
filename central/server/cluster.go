package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
)

// Cluster membership. A server that is in no cluster yet posts its
// ServerInfo to every address in Join, every second:
//
//	POST /v1/operator/raft/join {id, raft_addr, http_addr, mqtt_url}
//	  leader          → raft.AddVoter + registry entry   → {"joined": true}
//	  follower        → forwarded to the leader
//	  in no cluster   → remembers the caller             → {"joined": false, "peers": [...]}
//
// Once a server knows bootstrap_expect servers (itself included) it
// bootstraps Raft with all of them; every one of them does the same with
// the same set, which hashicorp/raft allows. A server in a cluster keeps
// its registry entry current by posting the same request to the leader.

// joinResponse answers a join request.
type joinResponse struct {
	Joined bool         `json:"joined"`
	Peers  []ServerInfo `json:"peers,omitempty"`
}

// errNoLeader is returned when the cluster has no leader to take a write.
var errNoLeader = errors.New("server: the cluster has no leader at the moment (an election is running, or fewer than a quorum of servers are up); retry")

func (s *Server) selfInfo() ServerInfo {
	info := ServerInfo{ID: s.cfg.Name, RaftAddr: s.raftAddr, HTTPAddr: advertise(s.HTTPAddr(), s.raftAddr)}
	if s.broker != nil {
		scheme, _, _ := strings.Cut(s.broker.URL(), "://") // tcp, or ssl with TLS
		info.MQTTURL = scheme + "://" + advertise(s.broker.Addr().String(), s.raftAddr)
	}
	return info
}

// advertise returns addr with an unspecified host (0.0.0.0, ::) replaced
// by the host of the Raft address, which must be one the other servers
// can reach.
func advertise(addr, raftAddr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	rhost, _, err := net.SplitHostPort(raftAddr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(rhost, port)
}

// clusterLoop joins or bootstraps the cluster and keeps this server's
// registry entry current.
func (s *Server) clusterLoop() {
	client := &http.Client{Timeout: 3 * time.Second, Transport: s.peerTransport()}
	s.warnJoinSecret()
	for {
		s.clusterStep(client)
		select {
		case <-s.done:
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Server) clusterStep(client *http.Client) {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	if len(f.Configuration().Servers) == 0 {
		s.joinOrBootstrap(client)
		return
	}
	self := s.selfInfo()
	if cur, ok := s.reg.get(self.ID); ok && cur == self {
		return
	}
	if s.raft.State() == raft.Leader {
		if err := s.registerSelf(); err != nil {
			s.log.Warn("could not register this server's addresses", "err", err)
		}
		return
	}
	if addr := s.leaderHTTP(); addr != "" {
		if _, err := postJoin(client, s.httpScheme(), addr, self, s.cfg.JoinSecret); err != nil {
			s.log.Debug("register with the leader", "leader", addr, "err", err)
		}
	}
}

// joinOrBootstrap asks every Join address to add this server and, while
// none can, gathers the servers met until bootstrap_expect are known.
func (s *Server) joinOrBootstrap(client *http.Client) {
	self := s.selfInfo()
	for _, addr := range s.cfg.Join {
		if addr == self.HTTPAddr || addr == s.HTTPAddr() {
			continue
		}
		resp, err := postJoin(client, s.httpScheme(), addr, self, s.cfg.JoinSecret)
		if err != nil {
			if errors.Is(err, errJoinRefused) {
				s.log.Warn("join refused: set the same join_secret (-join-secret) on every server", "server", addr, "err", err)
			} else {
				s.log.Debug("join", "server", addr, "err", err)
			}
			continue
		}
		if resp.Joined {
			s.log.Info("joined the cluster", "via", addr)
			return // the leader replicates the configuration to us
		}
		s.discoveredAdd(resp.Peers...)
	}
	if s.cfg.BootstrapExpect < 1 || s.hadState {
		return
	}
	peers := s.discoveredList()
	if len(peers) < s.cfg.BootstrapExpect {
		return
	}
	cfg := raft.Configuration{}
	for _, p := range peers {
		cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr)})
	}
	err := s.raft.BootstrapCluster(cfg).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		s.log.Error("bootstrap the cluster", "err", err)
		return
	}
	s.hadState = true
	s.log.Info("bootstrapped the cluster", "servers", len(peers))
}

func (s *Server) discoveredAdd(peers ...ServerInfo) {
	s.discMu.Lock()
	defer s.discMu.Unlock()
	for _, p := range peers {
		if p.ID != "" && p.RaftAddr != "" && p.ID != s.cfg.Name {
			s.discovered[p.ID] = p
		}
	}
}

// discoveredList returns this server and every server met, sorted by ID.
func (s *Server) discoveredList() []ServerInfo {
	s.discMu.Lock()
	defer s.discMu.Unlock()
	out := []ServerInfo{s.selfInfo()}
	for _, p := range s.discovered {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func postJoin(client *http.Client, scheme, addr string, self ServerInfo, secret string) (*joinResponse, error) {
	b, _ := json.Marshal(self)
	req, err := http.NewRequest(http.MethodPost, scheme+"://"+addr+"/v1/operator/raft/join", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(JoinSecretHeader, secret) // joinAuth
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("%w: join via %s: %s", errJoinRefused, addr, bytes.TrimSpace(body))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join via %s: %s: %s", addr, resp.Status, bytes.TrimSpace(body))
	}
	var jr joinResponse
	if err := json.Unmarshal(body, &jr); err != nil {
		return nil, fmt.Errorf("join via %s: decoding response: %w", addr, err)
	}
	return &jr, nil
}

// addServer is the leader's side of a join: add the server as a voter
// (unless it already is one at that address) and record its addresses.
func (s *Server) addServer(info ServerInfo) error {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	present := false
	for _, srv := range f.Configuration().Servers {
		if string(srv.ID) == info.ID && string(srv.Address) == info.RaftAddr && srv.Suffrage == raft.Voter {
			present = true
		}
	}
	if !present {
		if err := s.raft.AddVoter(raft.ServerID(info.ID), raft.ServerAddress(info.RaftAddr), 0, 10*time.Second).Error(); err != nil {
			return fmt.Errorf("server: add %s (%s) to the cluster: %w", info.ID, info.RaftAddr, err)
		}
		s.log.Info("server joined the cluster", "server", info.ID, "raft", info.RaftAddr)
	}
	if cur, ok := s.reg.get(info.ID); !ok || cur != info {
		return s.applyRegistry(info)
	}
	return nil
}

// removeServer removes a server from Raft and the registry (leader only).
func (s *Server) removeServer(id string) error {
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error(); err != nil {
		return fmt.Errorf("server: remove %s from the cluster: %w", id, err)
	}
	return s.applyRegistry(ServerInfo{ID: id, Removed: true})
}

func (s *Server) registerSelf() error {
	self := s.selfInfo()
	if cur, ok := s.reg.get(self.ID); ok && cur == self {
		return nil
	}
	return s.applyRegistry(self)
}

func (s *Server) applyRegistry(info ServerInfo) error {
	b, err := encodeRegistryEntry(info)
	if err != nil {
		return err
	}
	if err := s.raft.Apply(b, 10*time.Second).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return fmt.Errorf("server: record server %s: %w", info.ID, err)
	}
	return nil
}

// leaderHTTP is the leader's HTTP address, "" while unknown.
func (s *Server) leaderHTTP() string {
	if s.raft.State() == raft.Leader {
		return s.selfInfo().HTTPAddr
	}
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	if info, ok := s.reg.get(string(id)); ok {
		return info.HTTPAddr
	}
	return ""
}

// waitLeader waits up to timeout for a leader whose HTTP address is known.
func (s *Server) waitLeader(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if addr := s.leaderHTTP(); addr != "" {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", errNoLeader
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Leader is the leader's HTTP address ("" if unknown).
func (s *Server) Leader() string { return s.leaderHTTP() }

// raftProtocol is the Raft protocol version every server speaks.
const raftProtocol = raft.ProtocolVersionMax

// Members lists the servers of the cluster: Raft's configuration, with each
// server's HTTP address and whether its API answers now.
func (s *Server) Members() []api.Member {
	_, leaderID := s.raft.LeaderWithID()
	if s.raft.State() == raft.Leader {
		leaderID = raft.ServerID(s.cfg.Name)
	}
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	servers := f.Configuration().Servers
	out := make([]api.Member, len(servers))
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 500 * time.Millisecond, Transport: s.peerTransport()}
	for i, srv := range servers {
		m := api.Member{Name: string(srv.ID), Address: string(srv.Address), Status: "alive",
			Leader: srv.ID == leaderID}
		info, known := s.reg.get(string(srv.ID))
		if known {
			m.Address = info.HTTPAddr
		}
		out[i] = m
		if string(srv.ID) == s.cfg.Name {
			out[i].Address = s.HTTPAddr()
			continue
		}
		if !known {
			out[i].Status = "unknown"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(s.httpScheme() + "://" + info.HTTPAddr + "/v1/status/leader")
			if err != nil {
				out[i].Status = "failed"
				return
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	return out
}

// Join authentication. With a join secret configured (join_secret,
// -join-secret), POST /v1/operator/raft/join must carry it in
// JoinSecretHeader; servers send their own. With ACLs on, a request
// without the secret needs a token with operator write instead (an
// operator adding a server by hand), so with ACLs on and no join secret
// servers cannot join each other: a cluster has no ACL tokens before it
// exists, which is why the secret is configuration and not state.

// JoinSecretHeader carries the servers' join secret.
const JoinSecretHeader = "X-Tether-Join-Secret"

// errJoinRefused is returned by postJoin when the server answered 403.
var errJoinRefused = errors.New("join refused")

// joinAuth guards the join endpoint as described above.
func (s *Server) joinAuth(resolver *acl.Resolver, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := s.cfg.JoinSecret
		got := r.Header.Get(JoinSecretHeader)
		if r.ContentLength != 0 {
			// A refusal below answers without reading the body: close the
			// connection after it rather than wait for the body. Accepted
			// requests are small and rare (servers joining).
			w.Header().Set("Connection", "close")
		}
		switch {
		case secret != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1:
			next(w, r)
		case got != "":
			writeErr(w, http.StatusForbidden, "raft join: wrong join secret: every server needs the same join_secret (-join-secret)")
		case s.ACLEnabled() && r.Header.Get(api.TokenHeader) != "":
			if api.CheckOperator(s, resolver, w, r, true) {
				next(w, r)
			}
		case s.ACLEnabled():
			writeErr(w, http.StatusForbidden, "raft join: ACLs are on: send the servers' join secret (the same join_secret / -join-secret on every server) or a token with operator write")
		case secret != "":
			writeErr(w, http.StatusForbidden, "raft join: this cluster requires the servers' join secret (set the same join_secret / -join-secret on every server)")
		default:
			next(w, r)
		}
	})
}

// warnJoinSecret logs once at start when servers could not join each other.
func (s *Server) warnJoinSecret() {
	if s.cfg.ACL && len(s.cfg.Join) > 0 && s.cfg.JoinSecret == "" {
		s.log.Warn("ACLs are on but no join_secret is set: other servers cannot join this one, nor this one them (set the same -join-secret on every server)")
	}
}
