package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tether-edge/tether/central/api"
)

// appliedWait bounds how long a follower holds a forwarded write's answer
// while its own state catches up with the write.
const appliedWait = 2 * time.Second

// awaitApplied makes a write forwarded to the leader readable here before
// its answer goes back: a client that submits a job through a follower and
// then reads the evaluation from the same follower must find it. It waits
// until this server's FSM has applied the index the leader's answer
// carries in X-Tether-Index (2xx answers only), for at most appliedWait;
// after that the answer goes back anyway (reads may then lag briefly).
func (s *Server) awaitApplied(ctx context.Context, resp *http.Response) {
	if resp.StatusCode/100 != 2 || s.fsm == nil {
		return
	}
	idx, err := strconv.ParseUint(resp.Header.Get(api.IndexHeader), 10, 64)
	if err != nil || idx == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, appliedWait)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for s.fsm.applied.Load() < idx {
		select {
		case <-ctx.Done():
			s.log.Warn("a forwarded write is not applied here yet; answering anyway", "index", idx, "applied", s.fsm.applied.Load())
			return
		case <-tick.C:
		}
	}
}

// indexStamper answers a write forwarded from a follower with the index
// the leader's FSM has applied in X-Tether-Index when the handler set none
// (the security and operator endpoints answer without one), so the
// follower's awaitApplied has an index to wait for. Raft answers an Apply
// only after the FSM applied it, so that index covers the write, and it
// is an entry the follower's FSM will apply too.
type indexStamper struct {
	http.ResponseWriter
	s           *Server
	wroteHeader bool
}

func (w *indexStamper) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if w.Header().Get(api.IndexHeader) == "" && w.s.fsm != nil {
			w.Header().Set(api.IndexHeader, strconv.FormatUint(w.s.fsm.applied.Load(), 10))
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *indexStamper) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes streaming answers through.
func (w *indexStamper) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
