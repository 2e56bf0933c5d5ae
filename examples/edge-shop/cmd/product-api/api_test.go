package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDBURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
		err  error
	}{
		{"connection string", map[string]string{"DB_CONNECTION": "host=10.1.2.3 port=5432 dbname=shop"}, "http://10.1.2.3:5432", nil},
		{"connection string wins", map[string]string{"DB_CONNECTION": "host=a port=1", "DB_ADDR": "b:2"}, "http://a:1", nil},
		{"addr", map[string]string{"DB_ADDR": "127.0.0.1:9"}, "http://127.0.0.1:9", nil},
		{"no port", map[string]string{"DB_CONNECTION": "host=a dbname=shop"}, "", errNoDB},
		{"nothing (template rendered no instance)", map[string]string{"DB_CONNECTION": " "}, "", errNoDB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dbURL(func(k string) string { return tc.env[k] })
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("dbURL = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// The API forwards to the database and passes its client errors on.
func TestForwardsToDB(t *testing.T) {
	db := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /coffees":
			io.WriteString(w, `[{"id":1,"name":"x","price":100}]`)
		case "POST /orders":
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":1,"echo":`+string(b)+`}`)
		case "GET /orders/1":
			io.WriteString(w, `{"id":1}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"nope"}`)
		}
	}))
	defer db.Close()
	srv := httptest.NewServer(newHandler(db.URL))
	defer srv.Close()
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/health", "", 200, "ok"},
		{"GET", "/coffees", "", 200, `"price":100`},
		{"POST", "/orders", `{"coffee_id":1,"quantity":2,"payment_id":"pay-9"}`, 201, `"payment_id":"pay-9"`},
		{"POST", "/orders", `nonsense`, 400, "bad JSON"},
		{"GET", "/orders/1", "", 200, `"id":1`},
		{"GET", "/orders/2", "", 404, "nope"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, resp.StatusCode, b, tc.code, tc.want)
		}
	}
}

// Without a database address the API is unhealthy, so native service
// discovery does not hand it out, and says why.
func TestUnhealthyWithoutDB(t *testing.T) {
	h := newHandler("")
	for _, path := range []string{"/health", "/coffees"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "database") {
			t.Errorf("GET %s: %d %s, want 503 naming the database", path, rec.Code, rec.Body)
		}
	}
}
