package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
)

// forwardedHeader marks a request forwarded by a follower, so that a server
// that lost leadership meanwhile does not forward it on again.
const forwardedHeader = "X-Tether-Forwarded-By"

// leaderWait is how long a write waits for a leader during an election.
const leaderWait = 10 * time.Second

// handler routes the operator endpoints and forwards writes from a
// follower to the leader; everything else is the API's.
func (s *Server) handler(apiH http.Handler) http.Handler {
	s.fwd = &http.Client{Transport: s.peerTransport()}
	resolver := acl.NewResolver()
	// guard checks the token for operator read or write (with ACLs on).
	guard := func(write bool, h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if api.CheckOperator(s, resolver, w, r, write) {
				h(w, r)
			}
		})
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/operator/raft/join", s.joinAuth(resolver, s.handleJoin)) // cluster.go
	mux.Handle("GET /v1/operator/raft/configuration", guard(false, s.handleRaftConfig))
	mux.Handle("DELETE /v1/operator/raft/peer", s.leaderOnly(guard(true, s.handleRemovePeer)))
	// Saving a snapshot needs operator write: the file is the whole state.
	mux.Handle("GET /v1/operator/snapshot", s.leaderOnly(guard(true, s.handleSnapshotSave)))
	mux.Handle("POST /v1/operator/keyring/kek", s.joinAuth(resolver, s.handleKEK)) // kek.go
	mux.Handle("PUT /v1/operator/snapshot", s.leaderOnly(guard(true, s.handleSnapshotRestore)))
	s.securityRoutes(mux, guard) // security.go
	s.otaRoutes(mux, guard)      // agent releases and rollouts (ota.go)
	s.debugRoutes(mux, resolver) // /debug/pprof/ with enable_debug (debug.go)
	// A forced garbage collection (gc.go): operator write, as Nomad's
	// management-only `system gc`.
	mux.Handle("PUT /v1/system/gc", s.leaderOnly(guard(true, s.handleSystemGC)))
	mux.Handle("POST /v1/system/gc", s.leaderOnly(guard(true, s.handleSystemGC)))
	// Task logs come through the leader's broker connection: a follower
	// relays the read.
	mux.Handle("GET /v1/client/fs/logs/", s.logsViaLeader(apiH))
	mux.Handle("/", s.leaderOnly(apiH))
	return mux
}

// logRelayWriteTimeout bounds one write of a relayed log stream to the
// reader (a followed stream has no overall deadline).
const logRelayWriteTimeout = time.Minute

// logsViaLeader serves a log read here when this server leads (only the
// leader holds the broker connection the logs come through) and relays it
// from a follower to the leader, streaming what the leader sends as it
// arrives. The leader checks the token.
func (s *Server) logsViaLeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.currentLeader() != nil || r.Header.Get(forwardedHeader) != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), leaderWait)
		addr, err := s.waitLeader(ctx, leaderWait)
		cancel()
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if addr == s.HTTPAddr() || addr == s.selfInfo().HTTPAddr {
			next.ServeHTTP(w, r)
			return
		}
		req, err := s.toLeader(r.Context(), r, addr, nil)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		resp, err := s.fwd.Do(req)
		if err != nil {
			writeErr(w, http.StatusBadGateway, "relaying logs from the leader at "+addr+": "+err.Error())
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		rc := http.NewResponseController(w)
		buf := make([]byte, 32<<10)
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				_ = rc.SetWriteDeadline(time.Now().Add(logRelayWriteTimeout))
				if _, err := w.Write(buf[:n]); err != nil {
					return
				}
				_ = rc.Flush()
			}
			if rerr != nil {
				return
			}
		}
	})
}

// isWrite reports whether a request changes state and must run on the leader.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return strings.HasPrefix(r.URL.Path, "/v1/") && !strings.HasPrefix(r.URL.Path, "/v1/status/")
}

// leaderOnly serves writes (and snapshot saves) here on the leader and
// forwards them from a follower to the leader, waiting out an election.
func (s *Server) leaderOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWrite(r) && r.URL.Path != "/v1/operator/snapshot" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), leaderWait)
		defer cancel()
		addr, err := s.waitLeader(ctx, leaderWait)
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if addr == s.HTTPAddr() || addr == s.selfInfo().HTTPAddr {
			if r.Header.Get(forwardedHeader) != "" {
				w = &indexStamper{ResponseWriter: w, s: s} // readyourwrites.go
			}
			next.ServeHTTP(w, r)
			return
		}
		if by := r.Header.Get(forwardedHeader); by != "" {
			writeErr(w, http.StatusServiceUnavailable, "server "+s.cfg.Name+" is not the leader (the request was forwarded by "+by+"); leadership is changing: retry")
			return
		}
		s.forward(ctx, w, r, addr, next)
	})
}

// forward sends r to the leader and copies the answer back. The body is
// streamed, not buffered: the leader checks the token before it reads a
// byte of it, so a request it refuses costs this server nothing either (a
// follower that buffered the body first could be made to hold 64 MiB per
// anonymous connection). A request the leader never received (it could
// not be dialled: it died) has not had its body read, and is sent again to
// the next leader.
func (s *Server) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, addr string, local http.Handler) {
	body := &forwardBody{r: r.Body}
	fwdCtx := ctx
	if r.URL.Path == "/v1/operator/snapshot" {
		fwdCtx = r.Context() // an upload may take longer than leaderWait (its read deadline bounds it)
	}
	for {
		var rb io.Reader
		// A request without a body (Content-Length: 0) is forwarded
		// without one: its Body is not http.NoBody once the API has
		// wrapped it, and a non-nil body of length 0 would go out
		// chunked, which the leader takes for a body of no type (415).
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			rb = body
		}
		req, err := s.toLeader(fwdCtx, r, addr, rb)
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		req.ContentLength = r.ContentLength
		resp, err := s.fwd.Do(req)
		if err == nil {
			defer resp.Body.Close()
			if isWrite(r) {
				s.awaitApplied(ctx, resp) // readyourwrites.go
			}
			for k, vs := range resp.Header {
				w.Header()[k] = vs
			}
			if !body.eof.Load() {
				// The leader answered without reading the whole body (a
				// refusal): do not read the rest of it either.
				w.Header().Set("Connection", "close")
			}
			w.WriteHeader(resp.StatusCode)
			io.Copy(w, resp.Body)
			return
		}
		if body.n.Load() > 0 {
			// Part of the body is gone: it cannot be sent again.
			writeErr(w, http.StatusBadGateway, "forwarding to the leader at "+addr+": "+err.Error()+" (the write may or may not have been applied; check, then retry)")
			return
		}
		if !isDialError(err) {
			// The leader may or may not have applied it: say so.
			writeErr(w, http.StatusBadGateway, "forwarding to the leader at "+addr+": "+err.Error()+" (the write may or may not have been applied; check, then retry)")
			return
		}
		// The leader is gone; wait for the next one.
		select {
		case <-ctx.Done():
			writeErr(w, http.StatusServiceUnavailable, errNoLeader.Error())
			return
		case <-time.After(50 * time.Millisecond):
		}
		next, err := s.waitLeader(ctx, leaderWait)
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if next == s.selfInfo().HTTPAddr { // this server won the election (the body is unread)
			local.ServeHTTP(w, r)
			return
		}
		addr = next
	}
}

// toLeader is r, sent on to the leader at addr with body, marked as
// forwarded by this server.
func (s *Server) toLeader(ctx context.Context, r *http.Request, addr string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, s.httpScheme()+"://"+addr+r.URL.RequestURI(), body)
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	req.Header.Set(forwardedHeader, s.cfg.Name)
	return req, nil
}

// forwardBody is a forwarded request's body as the leader reads it: n
// bytes so far, eof once it has all (the HTTP client reads it from its own
// goroutine). It is a plain io.Reader, so that the HTTP client's Close
// after a failed dial leaves it open for the next leader.
type forwardBody struct {
	r   io.Reader
	n   atomic.Int64
	eof atomic.Bool
}

func (b *forwardBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
