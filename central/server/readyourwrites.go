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
// until this server's Raft has applied the index the leader's answer
// carries in X-Tether-Index (2xx answers only), for at most appliedWait;
// after that the answer goes back anyway (reads may then lag briefly).
func (s *Server) awaitApplied(ctx context.Context, resp *http.Response) {
	if resp.StatusCode/100 != 2 || s.raft == nil {
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
	for s.raft.AppliedIndex() < idx {
		select {
		case <-ctx.Done():
			s.log.Warn("a forwarded write is not applied here yet; answering anyway", "index", idx, "applied", s.raft.AppliedIndex())
			return
		case <-tick.C:
		}
	}
}
