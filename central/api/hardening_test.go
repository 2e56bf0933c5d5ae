package api_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
)

// listenAPI serves the API the way central does (api.NewHTTPServer, with
// PreAuthorize) on a real loopback listener and returns its base URL.
func listenAPI(t *testing.T, b *apitest.Backend, l api.HTTPLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs, hln := api.NewHTTPServer(ln, api.PreAuthorize(b, api.New(b, nil)), l)
	go hs.Serve(hln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// bootstrapped turns ACLs on in b and returns a management token.
func bootstrapped(t *testing.T, base string, b *apitest.Backend) string {
	t.Helper()
	b.ACL = true
	code, body := send(t, base, "POST", "/v1/acl/bootstrap", nil, "")
	if code != 200 {
		t.Fatalf("bootstrap: %d %s", code, body)
	}
	var tok acl.TokenView
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	return tok.SecretID
}

// send does one request with the given headers ("Name: value" lines).
func send(t *testing.T, base, method, path string, body io.Reader, headers string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range strings.Split(headers, "\n") {
		if k, v, ok := strings.Cut(h, ": "); ok {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func alive(t *testing.T, base string) {
	t.Helper()
	if code, body := send(t, base, "GET", "/v1/status/leader", nil, ""); code != 200 {
		t.Fatalf("central no longer answers: %d %s", code, body)
	}
}

// deepSubmission is the report's request: a job file of 100,000 nested "[".
func deepSubmission() string {
	hcl := "job \"x\" {\n  meta = { a = " + strings.Repeat("[", 100_000) + " }\n}\n"
	b, _ := json.Marshal(map[string]string{"hcl": hcl})
	return string(b)
}

// TestAnonymousSubmitRefusedBeforeParsing: with ACLs on, an anonymous
// job submission is refused without its body being read. Before, the
// 100,000 nested "[" were parsed first and overflowed the stack, killing
// central. The proof that the body is not read: the 403 arrives while
// the client is still holding most of the body back.
func TestAnonymousSubmitRefusedBeforeParsing(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	bootstrapped(t, base, b)

	body := deepSubmission()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", base+"/v1/jobs", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	go pw.Write([]byte(body[:1024])) // the rest never comes
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		done <- result{code: resp.StatusCode, body: string(rb)}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.code != http.StatusForbidden || !strings.Contains(r.body, "submit-job") {
			t.Fatalf("anonymous submit with the body held back: %d %s %v, want 403 naming submit-job", r.code, r.body, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer while the body is held back: the server waits to read it before checking the token")
	}

	// The whole body, sent: 403 too, and central answers after.
	if code, rb := send(t, base, "POST", "/v1/jobs", strings.NewReader(body), "Content-Type: application/json"); code != http.StatusForbidden {
		t.Fatalf("anonymous deep submission: %d %s, want 403", code, rb)
	}
	alive(t, base)
}

// TestDeepSubmitWithACLsOff: with ACLs off anyone may submit, so the
// parser itself must refuse the nesting, with the file, line and limit.
func TestDeepSubmitWithACLsOff(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(deepSubmission()), "Content-Type: application/json")
	if code != http.StatusBadRequest || !strings.Contains(body, "job.hcl:2: ") || !strings.Contains(body, "nested more than 256 levels deep") {
		t.Fatalf("deep submission: %d %s, want 400 naming job.hcl:2 and the limit", code, body)
	}
	alive(t, base)
}

// TestForBombSubmitRefused: the report's nested "for" cost 3.5 GB and
// 43 s; it is refused once it has produced 32 MiB of values.
func TestForBombSubmitRefused(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	list := "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]"
	expr := "1"
	for i := range 8 {
		expr = fmt.Sprintf("[for x%d in %s : %s]", i, list, expr)
	}
	hcl := "job \"x\" {\n  meta = { a = jsonencode(" + expr + ") }\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n"
	req, _ := json.Marshal(map[string]string{"hcl": hcl})
	code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(string(req)), "Content-Type: application/json")
	if code != http.StatusBadRequest || !strings.Contains(body, "job.hcl:2: ") || !strings.Contains(body, "MiB of values") && !strings.Contains(body, "takes longer than") {
		t.Fatalf("for bomb: %d %s", code, body)
	}
	if len(b.State().Jobs("")) != 0 {
		t.Fatal("a job was stored")
	}
	alive(t, base)
}

// TestCrossOriginWritesRefused sends what a page of another origin can
// make a browser send without a CORS preflight (a "simple request"):
// POST with text/plain, a form or multipart, and the headers browsers
// add. With ACLs off (central dev) the text/plain job used to run.
func TestCrossOriginWritesRefused(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	host := strings.TrimPrefix(base, "http://")
	job, _ := json.Marshal(map[string]string{"hcl": webHCL})
	for _, tc := range []struct {
		name, method, path, headers string
		body                        string
		want                        int
	}{
		{"text/plain from a page", "POST", "/v1/jobs", "Content-Type: text/plain\nOrigin: http://evil.example\nSec-Fetch-Site: cross-site", string(job), 403},
		{"text/plain, headers stripped", "POST", "/v1/jobs", "Content-Type: text/plain;charset=UTF-8", string(job), 415},
		{"form", "POST", "/v1/jobs", "Content-Type: application/x-www-form-urlencoded", "hcl=job", 415},
		{"multipart", "POST", "/v1/jobs", "Content-Type: multipart/form-data; boundary=x", "--x--", 415},
		{"no type", "POST", "/v1/jobs", "", string(job), 415},
		{"JSON from another origin", "POST", "/v1/jobs", "Content-Type: application/json\nOrigin: http://evil.example", string(job), 403},
		{"JSON from another port", "POST", "/v1/jobs", "Content-Type: application/json\nOrigin: http://127.0.0.1:1", string(job), 403},
		{"null origin", "POST", "/v1/jobs", "Content-Type: application/json\nOrigin: null", string(job), 403},
		{"same-site", "POST", "/v1/jobs", "Content-Type: application/json\nSec-Fetch-Site: same-site", string(job), 403},
		{"bodyless POST from a page", "POST", "/v1/node/aaaa1111-0000-0000-0000-000000000001/eligibility", "Origin: http://evil.example", "", 403},
		{"DELETE from a page", "DELETE", "/v1/job/web", "Origin: http://evil.example\nSec-Fetch-Site: cross-site", "", 403},
	} {
		var rd io.Reader
		if tc.body != "" {
			rd = strings.NewReader(tc.body)
		}
		code, body := send(t, base, tc.method, tc.path, rd, tc.headers)
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
		if !strings.Contains(body, "refused") {
			t.Errorf("%s: %s does not say what was refused", tc.name, body)
		}
	}
	if jobs := b.State().Jobs(""); len(jobs) != 0 {
		t.Fatalf("a refused request stored job %s", jobs[0].ID)
	}

	// What the CLI, scripts and the same origin send still works.
	for _, headers := range []string{
		"Content-Type: application/json",
		"Content-Type: application/json; charset=utf-8\nOrigin: http://" + host + "\nSec-Fetch-Site: same-origin",
	} {
		if code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(string(job)), headers); code != 200 {
			t.Fatalf("submit with %q: %d %s", headers, code, body)
		}
	}
	if code, body := send(t, base, "DELETE", "/v1/job/web", nil, ""); code != 200 {
		t.Fatalf("stop without a body: %d %s", code, body)
	}
	// Reads are not affected.
	if code, body := send(t, base, "GET", "/v1/jobs", nil, "Origin: http://evil.example\nSec-Fetch-Site: cross-site"); code != 200 {
		t.Fatalf("cross-origin read: %d %s", code, body)
	}
}

// raiseNoFile lifts the soft fd limit to the hard one and returns it.
func raiseNoFile(t *testing.T) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	return lim.Cur
}

// TestConnectionFlood opens thousands of connections that hold the
// server without working it (never sending a request, idle between
// keep-alive requests, or sending a body slowly) against a listener of
// 1,000 connections. Before, nothing bounded them: ~20,000 exhausted the
// process's descriptors. The API must still answer while they are held
// (before their timeouts run out: the oldest idle ones are evicted), and
// every one of them must be closed by the server: evicted at the limit,
// or cut by the idle and read timeouts.
func TestConnectionFlood(t *testing.T) {
	n := 3000
	if lim := raiseNoFile(t); lim < uint64(2*n+200) {
		n = int(lim-200) / 2 // the client's and the server's ends share this process
	}
	b := apitest.New()
	const maxConns = 1000
	// The timeouts are longer than the client's below: only evicting idle
	// connections at the limit lets the API answer in time.
	const timeouts = 15 * time.Second
	base := listenAPI(t, b, api.HTTPLimits{MaxConns: maxConns, ReadTimeout: timeouts, IdleTimeout: timeouts})
	addr := strings.TrimPrefix(base, "http://")

	var mu sync.Mutex
	var conns []net.Conn
	closed := make(chan string, n)
	watch := func(c net.Conn, kind string) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		go func() {
			io.Copy(io.Discard, c) // returns when the server closes it
			closed <- kind
		}()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		return c
	}
	floodStart := time.Now()
	slow, keepAlive := n/6, n/6
	for range slow { // a body that never finishes
		c := dial()
		fmt.Fprintf(c, "POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"hcl\": \"", addr)
		watch(c, "slow body")
	}
	for range keepAlive { // one request, then idle
		c := dial()
		fmt.Fprintf(c, "GET /v1/status/leader HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("keep-alive request: %v", err)
		}
		resp.Body.Close()
		watch(c, "keep-alive")
	}
	for range n - slow - keepAlive { // never a byte
		watch(dial(), "silent")
	}

	// The API answers while the flood is held.
	start := time.Now()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: timeouts / 2}
	for i := range 20 {
		resp, err := client.Get(base + "/v1/status/leader")
		if err != nil {
			t.Fatalf("request %d during the flood: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d during the flood: %s", i, resp.Status)
		}
	}
	t.Logf("%d connections held (%d slow bodies, %d keep-alive, the rest silent); 20 API requests answered in %v", n, slow, keepAlive, time.Since(start))

	// At most maxConns are held: the others were evicted at once, long
	// before any timeout could close them.
	count := map[string]int{}
	evicted := 0
	for evicted < n-maxConns && time.Since(floodStart) < timeouts-time.Second {
		select {
		case kind := <-closed:
			count[kind]++
			evicted++
		case <-time.After(100 * time.Millisecond):
		}
	}
	if evicted < n-maxConns {
		t.Fatalf("%d connections closed before the timeouts, want at least %d: the listener holds more than %d", evicted, n-maxConns, maxConns)
	}

	// Every flood connection is closed by the server.
	deadline := time.After(90 * time.Second)
	for i := evicted; i < n; i++ {
		select {
		case kind := <-closed:
			count[kind]++
		case <-deadline:
			t.Fatalf("after 90 s only %d of %d flood connections were closed by the server: %v", i, n, count)
		}
	}
	t.Logf("closed by the server: %v in %v", count, time.Since(start))
}

// TestBlockingQueryOutlivesWriteTimeout: a blocking query waits longer
// than the server's WriteTimeout and its answer still arrives.
func TestBlockingQueryOutlivesWriteTimeout(t *testing.T) {
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{ReadTimeout: time.Second, WriteTimeout: time.Second})
	resp, err := http.Get(base + "/v1/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	idx := resp.Header.Get(api.IndexHeader)
	start := time.Now()
	resp, err = http.Get(base + "/v1/jobs?index=" + idx + "&wait=3s")
	if err != nil {
		t.Fatalf("blocking query: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("blocking query: %s %v", resp.Status, err)
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("blocking query answered after %v: it did not block", took)
	}
	// A plain request that outlives the WriteTimeout would be cut; the
	// blocking one above was not. And a slow body is cut by ReadTimeout.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a request whose body never ends was not cut by the read timeout")
	}
}

// TestSubmitQueue: submissions that hold their turn by sending their body
// slowly are cut after the body wait; meanwhile, others are told to retry
// (503) rather than queue up without end; afterwards a submission goes
// through.
func TestSubmitQueue(t *testing.T) {
	defer api.SetSubmitWaits(time.Second, 3*time.Second)()
	b := apitest.New()
	base := listenAPI(t, b, api.HTTPLimits{})
	addr := strings.TrimPrefix(base, "http://")
	cut := make(chan struct{}, api.ParseSlots())
	for range api.ParseSlots() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/jobs HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
		go func() {
			io.Copy(io.Discard, c)
			cut <- struct{}{}
		}()
	}
	job, _ := json.Marshal(map[string]string{"hcl": webHCL})
	code, body := 0, ""
	eventually(t, 20*time.Second, func() error {
		code, body = send(t, base, "POST", "/v1/jobs", strings.NewReader(string(job)), "Content-Type: application/json")
		if code != http.StatusServiceUnavailable {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if !strings.Contains(body, "retry") {
		t.Fatalf("503 without advice: %s", body)
	}
	for i := range api.ParseSlots() {
		select {
		case <-cut:
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d slow submissions were cut", i)
		}
	}
	if code, body := send(t, base, "POST", "/v1/jobs", strings.NewReader(string(job)), "Content-Type: application/json"); code != 200 {
		t.Fatalf("submit after the slow ones were cut: %d %s", code, body)
	}
}
