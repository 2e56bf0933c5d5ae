package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Orders are stored on disk: a store opened again on the same file (the
// restarted task) has them, and numbering goes on.
func TestOrdersSurviveReopen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data", "orders.json")
	s, err := openStore(file)
	if err != nil {
		t.Fatal(err)
	}
	rec := do(t, newHandler(s), "POST", "/orders", `{"coffee_id":2,"quantity":3,"payment_id":"pay-1"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /orders: %d %s", rec.Code, rec.Body)
	}
	var o shop.Order
	json.Unmarshal(rec.Body.Bytes(), &o)
	if o.ID != 1 || o.Total != 3*400 || o.PaymentID != "pay-1" || o.Created == "" {
		t.Fatalf("stored order %+v", o)
	}

	s2, err := openStore(file)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(s2)
	rec = do(t, h, "GET", "/orders/1", "")
	var got shop.Order
	json.Unmarshal(rec.Body.Bytes(), &got)
	if rec.Code != http.StatusOK || got != o {
		t.Fatalf("after reopen GET /orders/1: %d %+v, want %+v", rec.Code, got, o)
	}
	rec = do(t, h, "POST", "/orders", `{"coffee_id":1,"quantity":1}`)
	json.Unmarshal(rec.Body.Bytes(), &got)
	if got.ID != 2 {
		t.Fatalf("next order id %d, want 2", got.ID)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestHandlerRejectsBadOrders(t *testing.T) {
	s, err := openStore(filepath.Join(t.TempDir(), "orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(s)
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"unknown coffee", "POST", "/orders", `{"coffee_id":99,"quantity":1}`, 400},
		{"zero quantity", "POST", "/orders", `{"coffee_id":1,"quantity":0}`, 400},
		{"not JSON", "POST", "/orders", `{`, 400},
		{"unknown field", "POST", "/orders", `{"coffee_id":1,"quantity":1,"x":1}`, 400},
		{"missing order", "GET", "/orders/5", "", 404},
		{"bad id", "GET", "/orders/x", "", 400},
		{"menu", "GET", "/coffees", "", 200},
		{"health", "GET", "/health", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := do(t, h, tc.method, tc.path, tc.body); rec.Code != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.code)
			}
		})
	}
	if n := s.count(); n != 0 {
		t.Fatalf("%d orders stored from bad requests", n)
	}
}

func TestDamagedFileNamesTheFix(t *testing.T) {
	file := filepath.Join(t.TempDir(), "orders.json")
	os.WriteFile(file, []byte("{not json"), 0o644)
	_, err := openStore(file)
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("openStore on a damaged file: %v", err)
	}
}

// serve writes its pid next to the database file and fails clearly
// without a listen address.
func TestServeWritesPidAndNeedsAPort(t *testing.T) {
	dir := t.TempDir()
	getenv := func(k string) string {
		return map[string]string{"NOMAD_ALLOC_DIR": dir}[k]
	}
	var out strings.Builder
	if code := run(getenv, &out); code != 1 || !strings.Contains(out.String(), "NOMAD_PORT_db") {
		t.Fatalf("run without a port: %d %q", code, out.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "data", "shop-db.pid"))
	if err != nil || strings.TrimSpace(string(b)) == "" {
		t.Fatalf("pid file: %v %q", err, b)
	}
}
