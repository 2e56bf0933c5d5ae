package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Check types.
const (
	TypeHTTP = "http"
	TypeTCP  = "tcp"
)

// Defaults and floors for check timing.
const (
	DefaultInterval = 10 * time.Second
	DefaultTimeout  = 2 * time.Second
	MinInterval     = 10 * time.Millisecond
)

// maxBody is how much of an HTTP check's response body is read (and
// discarded) so the connection is finished cleanly.
const maxBody = 4 << 10

var (
	// ErrUnknownType is returned for a check type other than http or tcp.
	ErrUnknownType = errors.New("health: unknown check type")
	// ErrNoAddress is returned for a check without a host:port to probe.
	ErrNoAddress = errors.New("health: check has no address")
)

// Check is one check to run against a service instance.
type Check struct {
	Type     string // http | tcp
	Addr     string // host:port to probe
	Path     string // http only; default "/"
	Interval time.Duration
	Timeout  time.Duration
	// Method, Header and Body shape an http check's request (method
	// default GET; a "Host" header sets the request's host).
	Method string
	Header map[string][]string
	Body   string
	// RestartLimit is check_restart's limit: after this many failures in
	// a row, counted once RestartGrace has passed since the check
	// started, WatchRestart asks for the task to be restarted (0: never).
	RestartLimit int
	RestartGrace time.Duration
}

// Status is a service's aggregated health.
type Status struct {
	Healthy bool
	// Output is the last failing check's message ("" when healthy, or
	// "pending" before every check has reported).
	Output string
}

// transport is shared by every http check: no keep-alives, so a stopped
// task leaves no idle connection behind.
var transport = &http.Transport{DisableKeepAlives: true, Proxy: nil}

// Probe runs one check once and returns nil if it passed, else an error
// that says what failed (for operators).
func Probe(ctx context.Context, c Check) error {
	if c.Addr == "" {
		return ErrNoAddress
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch c.Type {
	case TypeTCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.Addr)
		if err != nil {
			return fmt.Errorf("TCP connect %s: %w", c.Addr, err)
		}
		return conn.Close()
	case TypeHTTP, "":
		path := c.Path
		if path == "" || path[0] != '/' {
			path = "/" + path
		}
		url := "http://" + c.Addr + path
		method := c.Method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if c.Body != "" {
			body = strings.NewReader(c.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, url, body)
		if err != nil {
			return fmt.Errorf("HTTP %s %s: %w", method, url, err)
		}
		req.Header.Set("User-Agent", "tether-health-check")
		for k, vs := range c.Header {
			if http.CanonicalHeaderKey(k) == "Host" {
				if len(vs) > 0 {
					req.Host = vs[0]
				}
				continue
			}
			req.Header.Del(k)
			for _, v := range vs {
				req.Header.Add(k, v)
			}
		}
		resp, err := (&http.Client{Transport: transport}).Do(req)
		if err != nil {
			return fmt.Errorf("HTTP %s %s: %w", method, url, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("HTTP %s %s: %s", method, url, resp.Status)
		}
		return nil
	}
	return fmt.Errorf("%w %q (known: http, tcp)", ErrUnknownType, c.Type)
}

// watcher aggregates the results of one service's checks.
type watcher struct {
	report  func(Status)
	restart func(reason string) // nil: no check_restart
	asked   sync.Once           // restart is asked for once

	mu      sync.Mutex // guards results, last; held while report runs so reports stay ordered
	results []error    // per check; errPending until its first result
	last    *Status
}

var errPending = errors.New("pending")

// Watch runs checks (one goroutine each) until ctx is done and calls
// report with the service's status on every change, starting with the
// first one that follows each check's first result. report is called from
// the check goroutines, one call at a time, never after Watch's goroutines
// have seen ctx done. The channel it returns is closed once every check's
// goroutine has returned: no probe runs after that.
func Watch(ctx context.Context, checks []Check, report func(Status)) <-chan struct{} {
	return WatchRestart(ctx, checks, report, nil)
}

// WatchRestart is Watch with check_restart: restart is called (from a
// check's goroutine, at most once per WatchRestart) with the reason when a
// check with a RestartLimit has failed that many times in a row after its
// grace. The caller restarts the task, which registers its checks anew.
func WatchRestart(ctx context.Context, checks []Check, report func(Status), restart func(reason string)) <-chan struct{} {
	w := &watcher{report: report, results: make([]error, len(checks)), restart: restart}
	for i := range w.results {
		w.results[i] = errPending
	}
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, i, c)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

func (w *watcher) run(ctx context.Context, i int, c Check) {
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	if interval < MinInterval {
		interval = MinInterval
	}
	t := time.NewTimer(0)
	defer t.Stop()
	cr := restartCounter{limit: c.RestartLimit, graceUntil: time.Now().Add(c.RestartGrace)}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := Probe(ctx, c)
		if ctx.Err() != nil {
			return
		}
		w.set(ctx, i, err)
		if w.restart != nil && cr.observe(time.Now(), err) {
			w.asked.Do(func() {
				w.restart(fmt.Sprintf("check_restart: %s check of %s failed %d times in a row: %v", checkType(c), c.Addr, cr.limit, err))
			})
		}
		t.Reset(interval)
	}
}

func (w *watcher) set(ctx context.Context, i int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.results[i] = err
	st := Status{Healthy: true}
	for _, r := range w.results {
		if r != nil {
			st = Status{Healthy: false, Output: r.Error()}
			if r != errPending {
				break
			}
		}
	}
	if st.Output == errPending.Error() && w.last == nil {
		return // not every check has reported yet and none failed
	}
	if w.last != nil && *w.last == st {
		return
	}
	if ctx.Err() != nil {
		return
	}
	w.last = &st
	w.report(st)
}

// restartCounter counts a check's failures in a row for check_restart.
// Failures within the grace are not counted; a pass resets the count.
type restartCounter struct {
	limit      int
	graceUntil time.Time
	failures   int
}

// observe records one result at now and reports whether the limit is
// reached.
func (c *restartCounter) observe(now time.Time, err error) bool {
	if c.limit <= 0 {
		return false
	}
	if err == nil {
		c.failures = 0
		return false
	}
	if now.Before(c.graceUntil) {
		return false
	}
	c.failures++
	return c.failures >= c.limit
}

func checkType(c Check) string {
	if c.Type == "" {
		return TypeHTTP
	}
	return c.Type
}
