package main

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPage(t *testing.T) {
	h := newHandler("dc2")
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{"/", 200, "Served from datacenter <b>dc2</b>"},
		{"/", 200, "fetch('/api/coffees')"},
		{"/health", 200, "ok"},
		{"/nope", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s: %d, want %d with %q", tc.path, rec.Code, tc.code, tc.want)
		}
	}
}
