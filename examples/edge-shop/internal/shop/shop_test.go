package shop

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
		err  error
	}{
		{"nomad names", map[string]string{"NOMAD_IP_db": "10.0.0.5", "NOMAD_PORT_db": "2345"}, "10.0.0.5:2345", nil},
		{"tether names", map[string]string{"TETHER_IP_db": "127.0.0.1", "TETHER_PORT_db": "80"}, "127.0.0.1:80", nil},
		{"no ip means loopback", map[string]string{"NOMAD_PORT_db": "9"}, "127.0.0.1:9", nil},
		{"override", map[string]string{"SHOP_LISTEN": ":7000", "NOMAD_PORT_db": "9"}, ":7000", nil},
		{"other label only", map[string]string{"NOMAD_PORT_api": "9"}, "", ErrNoListenAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ListenAddr("db", env(tc.env))
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("ListenAddr = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestEnvFileValue(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"", ""},
		{"\nPRODUCT_API_URI=\"http://127.0.0.1:5\"\n", "http://127.0.0.1:5"},
		{"export PRODUCT_API_URI=http://a:1", "http://a:1"},
		{"OTHER=x\nPRODUCT_API_URI=http://a:1\nPRODUCT_API_URI=http://b:2\n", "http://b:2"},
		{"PRODUCT_API_URIX=http://a:1", ""},
	} {
		if got := EnvFileValue(tc.text, "PRODUCT_API_URI"); got != tc.want {
			t.Errorf("EnvFileValue(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// The environment wins; with it empty, the template's file is read again
// on every call, so a later render is picked up without a restart.
func TestUpstreamFallsBackToFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "product-api.env")
	u := Upstream{Env: "PRODUCT_API_URI", File: file, Getenv: env(nil)}
	if _, err := u.URL(); !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("URL with nothing rendered: %v, want ErrNoUpstream", err)
	}
	os.WriteFile(file, []byte("\n\n"), 0o644)
	if _, err := u.URL(); !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("URL with an empty render: %v, want ErrNoUpstream", err)
	}
	os.WriteFile(file, []byte(`PRODUCT_API_URI="http://127.0.0.1:4000/"`+"\n"), 0o644)
	if got, err := u.URL(); err != nil || got != "http://127.0.0.1:4000" {
		t.Fatalf("URL after the render = %q, %v", got, err)
	}
	u.Getenv = env(map[string]string{"PRODUCT_API_URI": "http://10.0.0.1:1"})
	if got, _ := u.URL(); got != "http://10.0.0.1:1" {
		t.Fatalf("URL with the env set = %q", got)
	}
}

func TestCallAndStatusOf(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			var in OrderRequest
			if err := ReadJSON(r.Body, &in); err != nil {
				Error(w, http.StatusBadRequest, err.Error())
				return
			}
			WriteJSON(w, http.StatusCreated, Order{ID: 7, Quantity: in.Quantity})
		case "/missing":
			Error(w, http.StatusNotFound, "nope")
		default:
			Error(w, http.StatusInternalServerError, "boom")
		}
	}))
	defer srv.Close()
	var o Order
	if err := Call(t.Context(), http.MethodPost, srv.URL+"/ok", OrderRequest{Quantity: 3}, &o); err != nil || o.ID != 7 || o.Quantity != 3 {
		t.Fatalf("Call /ok: %+v, %v", o, err)
	}
	if err := Call(t.Context(), http.MethodPost, srv.URL+"/ok", map[string]int{"bogus": 1}, nil); StatusOf(err) != http.StatusBadRequest {
		t.Fatalf("unknown field: %v (status %d), want 400", err, StatusOf(err))
	}
	if err := Call(t.Context(), http.MethodGet, srv.URL+"/missing", nil, nil); StatusOf(err) != http.StatusNotFound {
		t.Fatalf("missing: %v, want a 404 passed on", err)
	}
	if err := Call(t.Context(), http.MethodGet, srv.URL+"/boom", nil, nil); StatusOf(err) != http.StatusBadGateway {
		t.Fatalf("a 500 upstream: %v, want 502", err)
	}
}
