package health

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An http check sends the job's method, headers (Host as the request's
// host) and body, and passes only if the service answers 2xx to that.
func TestProbeSendsMethodHeaderAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Host != "api.internal" || r.Header.Get("Authorization") != "Basic eDp5" ||
			strings.Join(r.Header.Values("X-Probe"), ",") != "a,b" || string(b) != `{"ping":1}` {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := Check{Type: TypeHTTP, Addr: addr, Path: "/rpc", Method: http.MethodPost, Body: `{"ping":1}`,
		Header: map[string][]string{"Host": {"api.internal"}, "Authorization": {"Basic eDp5"}, "X-Probe": {"a", "b"}}}
	if err := Probe(context.Background(), c); err != nil {
		t.Fatalf("probe with method, header and body: %v", err)
	}
	c.Method = ""
	if err := Probe(context.Background(), c); err == nil || !strings.Contains(err.Error(), "HTTP GET") || !strings.Contains(err.Error(), "400") {
		t.Errorf("probe without the method: %v, want a failing GET", err)
	}
	c.Method = "BAD METHOD"
	if err := Probe(context.Background(), c); err == nil {
		t.Error("a method with a space was sent")
	}
	c.Method, c.Header = http.MethodPost, map[string][]string{"X-Bad": {"a\r\nInjected: 1"}}
	if err := Probe(context.Background(), c); err == nil {
		t.Error("a header value with CRLF was sent")
	}
}
