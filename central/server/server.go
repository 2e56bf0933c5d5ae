package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Version is central's build version, set by the linker.
var Version = "0.1.0-dev"

// ErrNotLeader is returned for a write on a server that is not the leader.
var ErrNotLeader = errors.New("server: this server lost leadership during the write; retry (it is forwarded to the new leader)")

// Server is one running central server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   *state.Store
	raft    *raft.Raft
	fsm     *fsm           // what raft applies to: the store and the server registry
	broker  *broker.Broker // nil with external brokers
	brokers []string
	http    *http.Server
	httpLn  net.Listener
	tls     tlsConfigs // nil configs without a tls block
	secrets *secretBox // the key-encryption key and what it opened (kek.go)

	reg      *registry
	fwd      *http.Client // forwards writes to the leader
	snaps    raft.SnapshotStore
	restart  chan struct{} // asks watchLeadership to restart the leader's duties
	raftAddr string        // bound Raft address
	hadState bool          // Raft state existed when the server started

	// raftStream is the authenticated Raft stream layer; nil without TLS
	// and join secret (raftauth.go).
	raftStream *raftStream

	discMu     sync.Mutex            // guards discovered
	discovered map[string]ServerInfo // servers met before any cluster exists

	closers []func() error
	// closeTimeout bounds each stage of Close (defaultCloseTimeout).
	closeTimeout time.Duration

	mu     sync.Mutex // guards leader
	leader *leader    // non-nil while this server leads

	gcStats gcStats   // state garbage collection (gc.go)
	ota     otaServer // agent release binaries and downloads (ota.go)

	done chan struct{}
	wg   sync.WaitGroup
}

// New starts a server: its broker (unless external), Raft, and the HTTP
// API. It returns once every listener is bound.
func New(cfg Config, logger *slog.Logger, logOut io.Writer) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	if logOut == nil {
		logOut = os.Stderr
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: create data dir %s: %w", cfg.DataDir, err)
	}
	var err error
	s := &Server{cfg: cfg, log: logger, store: state.NewStore(), done: make(chan struct{}), closeTimeout: defaultCloseTimeout,
		reg: newRegistry(), discovered: map[string]ServerInfo{}, restart: make(chan struct{}, 1)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	if s.tls, err = cfg.TLS.load(); err != nil {
		return nil, err
	}
	if s.secrets, err = newSecretBox(cfg.DataDir); err != nil {
		return nil, err
	}
	s.brokers = cfg.Brokers
	if len(s.brokers) == 0 {
		b, err := s.startBroker() // security.go
		if err != nil {
			return nil, err
		}
		s.broker = b
		s.brokers = []string{b.URL()}
	}
	s.fsm = &fsm{inner: state.NewFSM(s.store, logger), reg: s.reg}
	if err := s.openRaft(s.fsm, logOut); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("server: HTTP listen on %s: %w (pick another with -http)", cfg.HTTPAddr, err)
	}
	s.httpLn = ln
	// Timeouts, the connection limit, same-origin and body checks:
	// central/api/listen.go.
	s.http, ln = api.NewHTTPServer(ln, api.PreAuthorize(s, s.handler(api.New(s, logger))), api.HTTPLimits{MaxConns: cfg.HTTPMaxConns})
	s.http.TLSConfig, s.http.ErrorLog = s.tls.server, slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
	s.wg.Add(4)
	go func() {
		defer s.wg.Done()
		serve := s.http.Serve
		if s.tls.server != nil {
			serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.watchLeadership()
	}()
	go func() {
		defer s.wg.Done()
		s.clusterLoop()
	}()
	go func() {
		defer s.wg.Done()
		s.kekLoop() // kek.go
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.releaseSync() // ota.go
	}()
	ok = true
	return s, nil
}

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// HTTPURL is the HTTP API's URL: https://addr with TLS, http://addr without.
func (s *Server) HTTPURL() string { return s.httpScheme() + "://" + s.HTTPAddr() }

// httpScheme is the scheme of every server's HTTP API: TLS is on for the
// whole cluster or for none of it.
func (s *Server) httpScheme() string {
	if s.tls.server != nil {
		return "https"
	}
	return "http"
}

// peerTransport is the transport for calls to other servers: it trusts
// the cluster's CA and presents this server's certificate.
func (s *Server) peerTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		TLSClientConfig:     s.tls.client,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
}

// BrokerURLs are the brokers agents connect to.
func (s *Server) BrokerURLs() []string { return s.brokers }

// Store is the server's state store (read-only use).
func (s *Server) Store() *state.Store { return s.store }

// defaultCloseTimeout bounds each step of Close.
const defaultCloseTimeout = 10 * time.Second

// Close stops the server. Agents' tasks are not affected. Each step is
// given closeTimeout; a step that takes longer is left behind and named in
// the error, so Close always returns.
func (s *Server) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.http.Shutdown(ctx)
		cancel()
	}
	var errs []error
	// stage runs one step of the shutdown and gives up on it after
	// closeTimeout: a stuck step (a broker waiting on a client that never
	// leaves) must not keep the process from exiting.
	stage := func(name string, f func() error) bool {
		finished := make(chan struct{})
		var err error
		go func() {
			defer close(finished)
			err = f()
		}()
		t := time.NewTimer(s.closeTimeout)
		defer t.Stop()
		select {
		case <-finished:
			errs = append(errs, err)
			return true
		case <-t.C:
			s.log.Error("shutdown step did not finish; giving up on it", "step", name, "after", s.closeTimeout)
			errs = append(errs, fmt.Errorf("server: %s did not finish within %s", name, s.closeTimeout))
			return false
		}
	}
	stage("leader duties", func() error { s.stopLeading(); return nil }) // leader duties end before Raft does
	raftDown := true
	if s.raft != nil {
		raftDown = stage("raft shutdown", func() error { s.raft.Shutdown().Error(); return nil })
	}
	stage("background loops", func() error {
		s.wg.Wait()
		s.stopLeading() // in case leadership was being taken up meanwhile
		return nil
	})
	if s.broker != nil {
		stage("embedded broker", func() error { s.broker.Close(); return nil })
	}
	if !raftDown {
		// Raft may still use its log store: leave the files to the exit.
		return errors.Join(errs...)
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		stage(fmt.Sprintf("closer %d of %d", len(s.closers)-i, len(s.closers)), s.closers[i])
	}
	return errors.Join(errs...)
}

// watchLeadership starts the leader's duties when this server gains
// leadership and stops them when it loses it.
func (s *Server) watchLeadership() {
	for {
		select {
		case isLeader := <-s.raft.LeaderCh():
			if isLeader {
				s.startLeading()
			} else {
				s.stopLeading()
			}
		case <-s.restart:
			// Also when taking up the duties failed (a keyring this
			// server could not open until now, kek.go).
			if s.currentLeader() != nil || s.raft.State() == raft.Leader {
				s.stopLeading()
				s.startLeading()
			}
		case <-s.done:
			return
		}
	}
}

func (s *Server) startLeading() {
	if err := s.raft.Barrier(30 * time.Second).Error(); err != nil {
		s.log.Error("leader barrier failed", "err", err)
		return
	}
	// Followers find this server's HTTP address (to forward writes) in
	// the registry.
	if err := s.registerSelf(); err != nil {
		s.log.Warn("could not register this server's addresses", "err", err)
	}
	l, err := startLeader(s)
	if err != nil {
		s.log.Error("could not take up leadership duties", "err", err)
		return
	}
	s.mu.Lock()
	s.leader = l
	s.mu.Unlock()
	s.log.Info("this server is the leader", "name", s.cfg.Name)
}

// restartLeading starts the leader's duties afresh (after a snapshot
// restore replaced the state under them).
func (s *Server) restartLeading() {
	select {
	case s.restart <- struct{}{}:
	default:
	}
}

func (s *Server) stopLeading() {
	s.mu.Lock()
	l := s.leader
	s.leader = nil
	s.mu.Unlock()
	if l != nil {
		l.stop()
	}
}

func (s *Server) currentLeader() *leader {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

// apply commits a command through Raft and hands its results (new
// evaluations, nodes whose desired state changed) to the leader's workers.
func (s *Server) apply(cmd *state.Command) (*state.ApplyResult, error) {
	b, err := state.EncodeCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("server: encode command: %w", err)
	}
	f := s.raft.Apply(b, 30*time.Second)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return nil, ErrNotLeader
		}
		return nil, fmt.Errorf("server: raft apply: %w", err)
	}
	res, _ := f.Response().(*state.ApplyResult)
	if res == nil {
		panic("BUG: FSM returned no ApplyResult")
	}
	if l := s.currentLeader(); l != nil {
		l.afterApply(res)
	}
	return res, res.Err
}

// --- api.Backend ---

// State is the store the HTTP API reads.
func (s *Server) State() api.Reader { return s.store }

// SubmitJob registers a job version and its evaluation.
func (s *Server) SubmitJob(ctx context.Context, job *jobspec.Job) (string, uint64, error) {
	return s.submitJob(job, 0, false)
}

// submitJob is SubmitJob with the state store's checks of the job's
// current version (UpsertJob.EnforceIndex, EnforceAbsent; plan.go).
func (s *Server) submitJob(job *jobspec.Job, enforceIndex uint64, enforceAbsent bool) (string, uint64, error) {
	if err := s.CheckJob(job); err != nil { // checkjob.go
		return "", 0, err
	}
	if job.Region == jobspec.DefaultRegion {
		job.Region = s.cfg.Region // the default: a job that names no region runs in this one
	}
	now := time.Now().UnixNano()
	var eval *structs.Evaluation
	// A periodic or parameterized parent is not evaluated (Nomad returns
	// no evaluation either): it never runs itself, and checkKindChange
	// keeps it from replacing an ordinary version that has allocations.
	if !job.IsParent() {
		eval = &structs.Evaluation{
			ID: structs.GenerateID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
			TriggeredBy: structs.TriggerJobRegister, JobID: job.ID, Status: structs.EvalPending,
			CreateTime: now, ModifyTime: now,
		}
	}
	res, err := s.apply(&state.Command{Ops: []state.Op{{UpsertJob: &state.UpsertJob{Job: job, Eval: eval, Now: now, KeepVersions: s.cfg.GC.TrackedVersions,
		EnforceIndex: enforceIndex, EnforceAbsent: enforceAbsent}}}})
	if err != nil {
		return "", 0, err
	}
	if eval == nil {
		return "", res.JobIndex, nil
	}
	return eval.ID, res.JobIndex, nil
}

// refused is a write refused for what it asks: the API answers 400 with
// the error's own text.
type refused struct{ err error }

func (r refused) Error() string   { return r.err.Error() }
func (r refused) Unwrap() []error { return []error{api.ErrInvalid, r.err} }

// StopJob stops (or purges) a job and evaluates it so its allocations stop.
func (s *Server) StopJob(ctx context.Context, ns, id string, purge bool) (string, uint64, error) {
	job := s.store.JobByID(ns, id)
	if job == nil {
		return "", 0, fmt.Errorf("job %q not found in namespace %q", id, ns)
	}
	now := time.Now().UnixNano()
	var eval *structs.Evaluation
	// A parent has no allocations of its own to stop (Nomad does not
	// evaluate it either); its children are left alone.
	if !job.IsParent() {
		eval = &structs.Evaluation{
			ID: structs.GenerateID(), Namespace: ns, Priority: job.Priority, Type: job.Type,
			TriggeredBy: structs.TriggerJobDeregister, JobID: id, Status: structs.EvalPending,
			CreateTime: now, ModifyTime: now,
		}
	}
	res, err := s.apply(&state.Command{Ops: []state.Op{{StopJob: &state.StopJob{Namespace: ns, JobID: id, Purge: purge, Eval: eval, Now: now, KeepVersions: s.cfg.GC.TrackedVersions}}}})
	if err != nil {
		return "", 0, err
	}
	if eval == nil {
		return "", res.JobIndex, nil
	}
	return eval.ID, res.JobIndex, nil
}

// DeleteService removes one service instance. Its agent registers it
// again with its next update if the instance still runs.
func (s *Server) DeleteService(ctx context.Context, ns, name, id string) error {
	_, err := s.apply(&state.Command{Ops: []state.Op{{DeleteService: &state.DeleteService{Namespace: ns, Name: name, ID: id}}}})
	return err
}

// Self describes this server.
func (s *Server) Self() map[string]any {
	self := map[string]any{
		"name":       s.cfg.Name,
		"version":    Version,
		"region":     s.cfg.Region,
		"http":       s.HTTPAddr(),
		"raft":       s.raftAddr,
		"brokers":    s.brokers,
		"leader":     s.raft.State() == raft.Leader,
		"raft_state": s.raft.State().String(),
	}
	if l := s.currentLeader(); l != nil {
		self["mqtt"] = l.gw.Counters()
		self["stats"] = l.stats()
	}
	return self
}
