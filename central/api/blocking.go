package api

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Blocking query bounds.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
)

// block waits, if the request asks with ?index=N, until table's index is
// above N or ?wait (default 5m, at most 10m) runs out. It returns the
// table's index to report, read before the data so a change that lands
// between the two is seen by the client's next query.
func (s *server) block(r *http.Request, table string) (uint64, error) {
	q := r.URL.Query()
	st := s.b.State()
	raw := q.Get("index")
	if raw == "" {
		return st.Index(table), nil
	}
	min, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, badRequest("index %q: want a non-negative integer, e.g. ?index=42", raw)
	}
	wait := defaultWait
	if w := q.Get("wait"); w != "" {
		wait, err = parseWait(w)
		if err != nil {
			return 0, err
		}
	}
	if wait > maxWait {
		wait = maxWait
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	st.Wait(ctx, table, min)
	return st.Index(table), nil
}

// parseWait accepts a Go duration ("30s", "5m") or Nomad's bare
// milliseconds ("30000").
func parseWait(w string) (time.Duration, error) {
	if ms, err := strconv.ParseUint(w, 10, 32); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(w)
	if err != nil || d < 0 {
		return 0, badRequest("wait %q: want a duration such as 30s or 5m", w)
	}
	return d, nil
}
