package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/ota"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// Agent releases and rollouts (docs/upgrades.md):
//
//	PUT    /v1/agent/release/<version>[?url=U]     add one binary (management)
//	GET    /v1/agent/releases                      list (operator read)
//	DELETE /v1/agent/release/<version>[?target=T]  delete (management)
//	GET    /v1/agent/release/<version>/<os>/<arch> download (no token; Range)
//	POST   /v1/agent/rollouts                      start (management)
//	GET    /v1/agent/rollouts                      list (operator read)
//	GET    /v1/agent/rollout/<id>                  status (operator read)
//	POST   /v1/agent/rollout/<id>/<pause|resume|abort> (management)
//
// A release's bytes live in each server's data dir (ReleaseDir), not in
// Raft: the server that took the upload holds them, and every other
// server fetches them from it (releaseSync) and checks the SHA-256.

// ReleaseDir is the folder of release binaries in a server's data dir.
const ReleaseDir = "agent-releases"

// maxDownloads bounds the release downloads one server serves at once;
// past it an agent is told to retry (503, Retry-After) or to try the next
// server in its list.
const maxDownloads = 64

// otaServer is the server's release store and download gate.
type otaServer struct {
	once  sync.Once
	blobs *ota.Blobs
	err   error
	slots chan struct{} // one per download being served

	sigMu sync.Mutex
	sigs  map[string][]byte // release sha256 + key index → ReleaseSig

	served, bytes atomic.Int64 // downloads begun, bytes sent
}

func (s *Server) releases() (*ota.Blobs, error) {
	s.ota.once.Do(func() {
		s.ota.blobs, s.ota.err = ota.OpenBlobs(filepath.Join(s.cfg.DataDir, ReleaseDir))
		s.ota.slots = make(chan struct{}, maxDownloads)
		s.ota.sigs = map[string][]byte{}
	})
	return s.ota.blobs, s.ota.err
}

func (s *Server) otaRoutes(mux *http.ServeMux, guard func(bool, http.HandlerFunc) http.Handler) {
	resolver := acl.NewResolver()
	mgmt := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if api.CheckManagement(s, resolver, w, r) {
				h(w, r)
			}
		})
	}
	mux.Handle("PUT /v1/agent/release/{version}", s.leaderOnly(mgmt(s.handleReleaseAdd)))
	mux.Handle("POST /v1/agent/release/{version}", s.leaderOnly(mgmt(s.handleReleaseAdd)))
	mux.Handle("DELETE /v1/agent/release/{version}", s.leaderOnly(mgmt(s.handleReleaseDelete)))
	mux.Handle("GET /v1/agent/releases", guard(false, s.handleReleaseList))
	mux.HandleFunc("GET /v1/agent/release/{version}/{os}/{arch}", s.handleReleaseDownload)
	mux.Handle("POST /v1/agent/rollouts", s.leaderOnly(mgmt(s.handleRolloutStart)))
	mux.Handle("GET /v1/agent/rollouts", guard(false, s.handleRolloutList))
	mux.Handle("GET /v1/agent/rollout/{id}", guard(false, s.handleRolloutGet))
	mux.Handle("POST /v1/agent/rollout/{id}/{action}", s.leaderOnly(mgmt(s.handleRolloutAction)))
}

// --- releases ------------------------------------------------------------------

func (s *Server) handleReleaseAdd(w http.ResponseWriter, r *http.Request) {
	version := r.PathValue("version")
	probe := protocol.ReleaseManifest{Version: version, Target: protocol.TargetLinuxAMD64, SHA256: make([]byte, 32), Size: 1}
	if err := probe.Validate(); err != nil {
		closeUnreadBody(w, r)
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	ext := r.URL.Query().Get("url")
	if ext != "" {
		u, err := url.Parse(ext)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(ext) > protocol.MaxUpgradeURL {
			closeUnreadBody(w, r)
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("url %q: want an http(s) URL with a host, at most %d bytes, where agents can download the binary", ext, protocol.MaxUpgradeURL))
			return
		}
	}
	blobs, err := s.releases()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	sum, size, err := blobs.Put(r.Body, "")
	if err != nil {
		writeErr(w, http.StatusBadRequest, "release "+version+": "+err.Error())
		return
	}
	keep := false
	defer func() {
		if !keep && !s.releaseUses(sum) {
			blobs.Remove(sum)
		}
	}()
	f, err := blobs.Open(sum)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	bin, err := ota.Inspect(f)
	if err == nil {
		err = ota.CheckVersion(bin, f, size, version)
	}
	f.Close()
	if err != nil {
		writeErr(w, http.StatusBadRequest, "release "+version+": "+err.Error())
		return
	}
	// Central signs every release it orders (protocol.SignRelease): a
	// cluster without a keyring yet (no enrolment, no -mqtt-auth) gets
	// one now, and signs its desired states from now on.
	if _, err := s.ensureKeyring(); err != nil {
		writeErr(w, http.StatusInternalServerError, "release "+version+": central's signing key: "+err.Error())
		return
	}
	rel := &structs.AgentRelease{Version: version, Target: bin.Target, SHA256: sum, Size: size, URL: ext,
		GoVersion: bin.GoVersion, CreateTime: time.Now().UnixNano()}
	if ext == "" {
		rel.Holders = []string{s.cfg.Name}
	}
	res, err := s.apply(&state.Command{Ops: []state.Op{{OTA: &state.OTAOp{UpsertRelease: rel}}}})
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrBadCommand) {
			code = http.StatusConflict
		}
		writeErr(w, code, err.Error())
		return
	}
	keep = ext == ""
	out := s.store.AgentRelease(rel.Version, rel.Target)
	if out == nil {
		out = rel
	}
	w.Header().Set("X-Tether-Index", strconv.FormatUint(res.Index, 10))
	writeJSONBody(w, out)
}

// closeUnreadBody answers on a connection whose body was not read.
func closeUnreadBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// releaseUses reports whether any release refers to the blob sum.
func (s *Server) releaseUses(sum string) bool {
	for _, r := range s.store.AgentReleases() {
		if r.SHA256 == sum && r.URL == "" {
			return true
		}
	}
	return false
}

func (s *Server) handleReleaseList(w http.ResponseWriter, r *http.Request) {
	rs := s.store.AgentReleases()
	if rs == nil {
		rs = []*structs.AgentRelease{}
	}
	writeJSONBody(w, rs)
}

func (s *Server) handleReleaseDelete(w http.ResponseWriter, r *http.Request) {
	d := &state.DeleteRelease{Version: r.PathValue("version"), Target: r.URL.Query().Get("target")}
	if d.Target != "" && !protocol.ValidTarget(d.Target) {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("target %q: want one of %s", d.Target, strings.Join(protocol.Targets, ", ")))
		return
	}
	_, err := s.apply(&state.Command{Ops: []state.Op{{OTA: &state.OTAOp{DeleteRelease: d}}}})
	switch {
	case errors.Is(err, state.ErrNoRelease):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, state.ErrReleaseInUse):
		writeErr(w, http.StatusConflict, err.Error())
	case err != nil:
		writeErr(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSONBody(w, map[string]string{"deleted": d.Version})
	}
}

// handleReleaseDownload serves a release binary, with Range requests (a
// cut download resumes). It needs no token: agents have none for the
// HTTP API, and a binary is no secret — the agent checks its SHA-256 and
// central's signature (in its signed desired state) before running it.
func (s *Server) handleReleaseDownload(w http.ResponseWriter, r *http.Request) {
	version, target := r.PathValue("version"), r.PathValue("os")+"/"+r.PathValue("arch")
	rel := s.store.AgentRelease(version, target)
	if rel == nil {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no agent release %s for %s (central agent release list)", version, target))
		return
	}
	if rel.URL != "" {
		http.Redirect(w, r, rel.URL, http.StatusFound)
		return
	}
	blobs, err := s.releases()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	f, err := blobs.Open(rel.SHA256)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeErr(w, http.StatusServiceUnavailable, fmt.Sprintf("server %s has not fetched release %s %s yet: try another server or retry", s.cfg.Name, version, target))
		return
	}
	defer f.Close()
	select {
	case s.ota.slots <- struct{}{}:
		defer func() { <-s.ota.slots }()
	default:
		w.Header().Set("Retry-After", "5")
		writeErr(w, http.StatusServiceUnavailable, fmt.Sprintf("server %s serves %d downloads at once: retry, or try another server", s.cfg.Name, maxDownloads))
		return
	}
	s.ota.served.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("ETag", `"`+rel.SHA256+`"`)
	w.Header().Set("X-Tether-SHA256", rel.SHA256)
	http.ServeContent(&countingWriter{ResponseWriter: w, n: &s.ota.bytes}, r, "", time.Unix(0, rel.CreateTime), f)
}

// --- replication -----------------------------------------------------------------

// releaseSync runs on every server: it fetches the release binaries this
// server lacks from a server that has them (checking the SHA-256), and
// removes the ones no release refers to any more.
func (s *Server) releaseSync() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.done
		cancel()
	}()
	client := &http.Client{Transport: s.peerTransport(), Timeout: 10 * time.Minute}
	var index uint64
	for ctx.Err() == nil {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		index = s.store.Wait(wctx, state.TableAgentReleases, index)
		wcancel()
		if ctx.Err() != nil {
			return
		}
		blobs, err := s.releases()
		if err != nil {
			s.log.Error("agent releases: cannot open the release folder", "err", err)
			continue
		}
		want := map[string]bool{}
		for _, rel := range s.store.AgentReleases() {
			if rel.URL != "" {
				continue
			}
			want[rel.SHA256] = true
			if blobs.Has(rel.SHA256) {
				continue
			}
			if err := s.fetchRelease(ctx, client, blobs, rel); err != nil {
				s.log.Warn("agent release: cannot fetch it from another server yet; retrying", "release", rel.ID(), "err", err)
			}
		}
		// A blob written moments ago may belong to an upload whose Raft
		// write is still on its way: only old ones go.
		for _, sum := range blobs.Sums() {
			if want[sum] {
				continue
			}
			if st, err := os.Stat(blobs.Path(sum)); err == nil && time.Since(st.ModTime()) > 10*time.Minute {
				blobs.Remove(sum)
			}
		}
	}
}

func (s *Server) fetchRelease(ctx context.Context, client *http.Client, blobs *ota.Blobs, rel *structs.AgentRelease) error {
	var errs []error
	for _, addr := range s.releaseServers(rel) {
		if addr == s.selfInfo().HTTPAddr {
			continue
		}
		u := s.httpScheme() + "://" + addr + releasePath(rel)
		if err := blobs.Fetch(ctx, client, u, rel.SHA256, rel.Size); err != nil {
			errs = append(errs, err)
			continue
		}
		s.log.Info("agent release fetched", "release", rel.ID(), "from", addr)
		return nil
	}
	if len(errs) == 0 {
		return errors.New("no other server is known")
	}
	return errors.Join(errs...)
}

func releasePath(rel *structs.AgentRelease) string {
	return "/v1/agent/release/" + url.PathEscape(rel.Version) + "/" + rel.Target
}

// releaseServers lists the HTTP addresses of the servers, those that
// held the release when it was added first.
func (s *Server) releaseServers(rel *structs.AgentRelease) []string {
	var first, rest []string
	infos, _ := s.reg.list()
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	self := s.selfInfo()
	if !containsInfo(infos, self.ID) {
		infos = append(infos, self)
	}
	for _, info := range infos {
		if info.HTTPAddr == "" {
			continue
		}
		if containsString(rel.Holders, info.ID) {
			first = append(first, info.HTTPAddr)
		} else {
			rest = append(rest, info.HTTPAddr)
		}
	}
	return append(first, rest...)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsInfo(infos []ServerInfo, id string) bool {
	for _, i := range infos {
		if i.ID == id {
			return true
		}
	}
	return false
}

// --- the order in a desired state ------------------------------------------------

// upgradeOrder is the Upgrade of a node's desired state: its rollout's
// order for the node's target, with every server's download URL (or the
// release's own URL) and central's signatures over the release manifest.
// nil when the node has no order (or its release is gone).
func (s *Server) upgradeOrder(snap *state.Snapshot, nodeID string) *protocol.AgentUpgrade {
	ro, rn := snap.UpgradeOrder(nodeID)
	if ro == nil {
		return nil
	}
	rel := snap.AgentRelease(ro.Version, rn.Target)
	if rel == nil {
		return nil
	}
	sum, err := hex.DecodeString(rel.SHA256)
	if err != nil {
		return nil
	}
	u := &protocol.AgentUpgrade{Version: rel.Version, Target: rel.Target, SHA256: sum, Size: rel.Size,
		AllowDowngrade: ro.AllowDowngrade, RolloutID: ro.ID, HealthWindowMs: ro.HealthWindow / int64(time.Millisecond)}
	if rel.URL != "" {
		u.URLs = []string{rel.URL}
	} else {
		for _, addr := range s.releaseServers(rel) {
			if len(u.URLs) == protocol.MaxUpgradeURLs {
				break
			}
			u.URLs = append(u.URLs, s.httpScheme()+"://"+addr+releasePath(rel))
		}
	}
	if u.ReleaseSig = s.releaseSig(u.Manifest()); u.ReleaseSig == nil {
		return nil
	}
	return u
}

// releaseSig signs a release manifest with central's current keys (the
// active one, and the previous one during a rotation), cached per key.
func (s *Server) releaseSig(m protocol.ReleaseManifest) []byte {
	if _, err := s.releases(); err != nil {
		return nil
	}
	key := hex.EncodeToString(m.SHA256) + "/" + m.Version + "/" + m.Target + "/" + strconv.FormatUint(s.signingKeyIndex(), 10)
	s.ota.sigMu.Lock()
	defer s.ota.sigMu.Unlock()
	if sig, ok := s.ota.sigs[key]; ok {
		return sig
	}
	keys := s.signingKeys()
	if len(keys) == 0 {
		s.log.Warn("agent upgrade: central has no signing key; the order is not sent")
		return nil
	}
	sig, err := protocol.SignRelease(m, keys...)
	if err != nil {
		s.log.Error("agent upgrade: sign release", "release", m.Version+"/"+m.Target, "err", err)
		return nil
	}
	if len(s.ota.sigs) > 256 {
		clear(s.ota.sigs)
	}
	s.ota.sigs[key] = sig
	return sig
}

// upgradeFailure converts a hello's upgrade failure report.
func upgradeFailure(f *protocol.UpgradeFailure) *structs.UpgradeFailure {
	if f == nil {
		return nil
	}
	return &structs.UpgradeFailure{Version: trunc(f.Version, protocol.MaxUpgradeVersion), Reason: protocol.TruncReason(f.Reason),
		Time: f.Time, RolloutID: trunc(f.RolloutID, protocol.MaxRolloutID), RolledBack: f.RolledBack}
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// --- rollouts --------------------------------------------------------------------

func (s *Server) handleRolloutStart(w http.ResponseWriter, r *http.Request) {
	var spec ota.RolloutSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeErr(w, http.StatusBadRequest, `rollout: body must be JSON {"version": ..., "datacenters": [...], "constraints": [...], "canary": N, "max_parallel": "N|P%", "health_window": "2m", "allow_downgrade": false}: `+err.Error())
		return
	}
	if spec.Version == "" {
		writeErr(w, http.StatusBadRequest, "rollout: version is required (-version V)")
		return
	}
	found := false
	for _, rel := range s.store.AgentReleases() {
		found = found || rel.Version == spec.Version
	}
	if !found {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("rollout: no release %s: add its binaries first with `central agent release add -version %s FILE...`", spec.Version, spec.Version))
		return
	}
	has := func(t string) bool { return s.store.AgentRelease(spec.Version, t) != nil }
	ro, err := ota.NewRollout(structs.GenerateID(), spec, s.store.Nodes(), has, time.Now().UnixNano())
	if err != nil {
		writeErr(w, http.StatusBadRequest, "rollout: "+err.Error())
		return
	}
	ro.Events = append([]structs.RolloutEvent{{Time: ro.CreateTime, Message: fmt.Sprintf("started: %d nodes to %s, canary %d, max parallel %d, health window %s", len(ro.Order), ro.Version, ro.Canary, ro.MaxParallel, time.Duration(ro.HealthWindow))}}, ro.Events...)
	res, err := s.apply(&state.Command{Ops: []state.Op{{OTA: &state.OTAOp{StartRollout: ro}}}})
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, state.ErrRolloutActive) || errors.Is(err, state.ErrConflict) {
			code = http.StatusConflict
		}
		writeErr(w, code, err.Error())
		return
	}
	w.Header().Set("X-Tether-Index", strconv.FormatUint(res.Index, 10))
	writeJSONBody(w, s.store.AgentRolloutByID(ro.ID))
}

func (s *Server) handleRolloutList(w http.ResponseWriter, r *http.Request) {
	out := []RolloutSummary{}
	for _, ro := range s.store.AgentRollouts() {
		out = append(out, summarize(ro))
	}
	writeJSONBody(w, out)
}

// RolloutSummary is a rollout in GET /v1/agent/rollouts: no per-node detail.
type RolloutSummary struct {
	ID                string         `json:"id"`
	Version           string         `json:"version"`
	Status            string         `json:"status"`
	StatusDescription string         `json:"status_description,omitempty"`
	Nodes             int            `json:"nodes"`
	Counts            map[string]int `json:"counts"`
	CreateTime        int64          `json:"create_time"`
	ModifyTime        int64          `json:"modify_time"`
}

func summarize(ro *structs.AgentRollout) RolloutSummary {
	return RolloutSummary{ID: ro.ID, Version: ro.Version, Status: ro.Status, StatusDescription: ro.StatusDescription,
		Nodes: len(ro.Order), Counts: ro.RolloutCounts(), CreateTime: ro.CreateTime, ModifyTime: ro.ModifyTime}
}

// findRollout resolves a rollout ID, a unique prefix of one, or "latest"
// (the active rollout, else the newest).
func (s *Server) findRollout(id string) (*structs.AgentRollout, error) {
	all := s.store.AgentRollouts()
	if id == "latest" || id == "" {
		if ro := s.store.ActiveRollout(); ro != nil {
			return ro, nil
		}
		if len(all) > 0 {
			return all[0], nil
		}
		return nil, fmt.Errorf("no agent rollout yet: start one with `central agent rollout start -version V`")
	}
	var match []*structs.AgentRollout
	for _, ro := range all {
		if ro.ID == id {
			return ro, nil
		}
		if strings.HasPrefix(ro.ID, id) {
			match = append(match, ro)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("no agent rollout %q (central agent rollout status lists the latest)", id)
	case 1:
		return match[0], nil
	}
	return nil, fmt.Errorf("rollout ID prefix %q matches %d rollouts: give more of it", id, len(match))
}

func (s *Server) handleRolloutGet(w http.ResponseWriter, r *http.Request) {
	ro, err := s.findRollout(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSONBody(w, ro)
}

func (s *Server) handleRolloutAction(w http.ResponseWriter, r *http.Request) {
	ro, err := s.findRollout(r.PathValue("id"))
	if err != nil {
		writeErr(w, http.StatusNotFound, err.Error())
		return
	}
	now := time.Now().UnixNano()
	u := &state.RolloutUpdate{ID: ro.ID, Now: now}
	switch action := r.PathValue("action"); action {
	case "pause":
		u.IfStatus, u.Status = []string{structs.RolloutRunning}, structs.RolloutPaused
		u.StatusDescription = "paused by an operator: no node is ordered; the nodes upgrading are still judged"
	case "resume":
		u.IfStatus, u.Status = []string{structs.RolloutPaused}, structs.RolloutRunning
	case "abort":
		u.IfStatus, u.Status = []string{structs.RolloutRunning, structs.RolloutPaused}, structs.RolloutAborted
		u.StatusDescription = "aborted by an operator"
		u.Nodes = map[string]*structs.RolloutNode{}
		for id, n := range ro.Nodes {
			if n.Status == structs.RolloutNodeUpgrading {
				c := *n
				c.Status, c.DoneAt, c.Description = structs.RolloutNodeCancelled, now, "order withdrawn: the rollout was aborted"
				u.Nodes[id] = &c
			}
		}
	default:
		writeErr(w, http.StatusNotFound, fmt.Sprintf("rollout action %q: want pause, resume or abort", action))
		return
	}
	u.Events = []structs.RolloutEvent{{Time: now, Message: r.PathValue("action") + " by an operator"}}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{OTA: &state.OTAOp{UpdateRollout: u}}}}); err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, state.ErrConflict) {
			code = http.StatusConflict
		}
		writeErr(w, code, err.Error())
		return
	}
	writeJSONBody(w, s.store.AgentRolloutByID(ro.ID))
}

// rolloutLoop is the leader's driver of the active rollout: once a second
// it judges the nodes upgrading and orders the next (ota.Step). Its work
// is bounded by the rollout's nodes, never by the heartbeats: a hello
// only updates its node in the store, which the next step reads.
func (l *leader) rolloutLoop() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case now := <-tick.C:
			l.rolloutStep(now)
		}
	}
}

func (l *leader) rolloutStep(now time.Time) {
	snap := l.s.store.Snapshot()
	ro := snap.ActiveRollout()
	if ro == nil {
		return
	}
	view := func(id string) ota.NodeView {
		n := snap.NodeByID(id)
		if n == nil {
			return ota.NodeView{}
		}
		v := ota.NodeView{Known: true, Ready: n.Status == structs.NodeReady, Version: n.Version, Reattached: n.Reattached}
		if f := n.UpgradeFailed; f != nil {
			v.FailedVersion, v.FailedRollout, v.FailedReason = f.Version, f.RolloutID, f.Reason
		}
		return v
	}
	u := ota.Step(ro, view, now.UnixNano())
	if u == nil {
		return
	}
	if _, err := l.s.apply(&state.Command{Ops: []state.Op{{OTA: &state.OTAOp{UpdateRollout: u}}}}); err != nil && !errors.Is(err, state.ErrConflict) {
		l.s.log.Warn("agent rollout step not applied; retrying", "rollout", ro.ID, "err", err)
	}
}

// countingWriter counts the bytes of release downloads served, and gives
// each write its own deadline (a slow link gets its whole binary).
type countingWriter struct {
	http.ResponseWriter
	n interface{ Add(int64) int64 }
}

func (c *countingWriter) Write(p []byte) (int, error) {
	_ = http.NewResponseController(c.ResponseWriter).SetWriteDeadline(time.Now().Add(api.DefaultWriteTimeout))
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// otaMetrics are the release download counters and the nodes per agent
// version (GET /v1/metrics).
func (s *Server) otaMetrics() []api.Metric {
	out := []api.Metric{
		api.Counter("tether_agent_release_downloads_total", "Agent release downloads this server began serving (a resumed download counts again).", float64(s.ota.served.Load())),
		api.Counter("tether_agent_release_bytes_total", "Bytes of agent releases this server sent.", float64(s.ota.bytes.Load())),
	}
	return out
}

var _ io.Writer = (*countingWriter)(nil)
