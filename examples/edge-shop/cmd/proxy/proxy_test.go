package main

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
)

// /api/ goes to the public API with its path kept, the rest to the frontend.
func TestRoutes(t *testing.T) {
	backend := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" "+r.URL.Path)
		}))
	}
	api, fe := backend("api"), backend("frontend")
	defer api.Close()
	defer fe.Close()
	h, err := newHandler(api.URL, fe.URL, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	for path, want := range map[string]string{
		"/":                "frontend /",
		"/index.html":      "frontend /index.html",
		"/api/coffees":     "api /api/coffees",
		"/api/orders/3":    "api /api/orders/3",
		"/health":          "ok\n",
		"/apix/not-an-api": "frontend /apix/not-an-api",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("GET %s → %q, want %q", path, b, want)
		}
	}
}

func TestBadUpstreams(t *testing.T) {
	for _, tc := range [][2]string{{"", "http://a:1"}, {"http://a:1", "a:1"}, {"ftp://a:1", "http://a:1"}} {
		if _, err := newHandler(tc[0], tc[1], log.New(io.Discard, "", 0)); !errors.Is(err, errBadUpstream) {
			t.Errorf("newHandler(%q, %q): %v, want errBadUpstream", tc[0], tc[1], err)
		}
	}
}
