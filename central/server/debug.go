package server

import (
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
)

// debugRoutes serves Go's profiles under /debug/pprof/ when the server
// runs with enable_debug (-enable-debug), as Nomad's enable_debug does.
// A heap or goroutine profile shows what the process holds (tokens,
// keys in memory), so with ACLs on it needs operator write; with ACLs
// off only loopback clients get it.
//
//	go tool pprof http://127.0.0.1:7600/debug/pprof/profile?seconds=30
func (s *Server) debugRoutes(mux *http.ServeMux, resolver *acl.Resolver) {
	if !s.cfg.EnableDebug {
		return
	}
	guard := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.ACLEnabled() && !loopbackClient(r) {
				http.Error(w, "debug endpoints answer only loopback clients while ACLs are off: run the profiler on the server's machine, or turn ACLs on and use a token with operator write", http.StatusForbidden)
				return
			}
			if api.CheckOperator(s, resolver, w, r, true) {
				h(w, r)
			}
		})
	}
	mux.Handle("GET /debug/pprof/", guard(pprof.Index))
	mux.Handle("GET /debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.Handle("GET /debug/pprof/profile", guard(pprof.Profile))
	mux.Handle("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("GET /debug/pprof/trace", guard(pprof.Trace))
}

// loopbackClient reports whether the request came from this machine.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
