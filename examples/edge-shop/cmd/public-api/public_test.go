package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

// fakes are a product API and a payments service that record what they got.
type fakes struct {
	products, payments *httptest.Server

	mu     sync.Mutex // guards the fields below
	orders []shop.OrderRequest
	pays   []map[string]any
}

func newFakes(t *testing.T) *fakes {
	f := &fakes{}
	f.products = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /coffees":
			shop.WriteJSON(w, 200, []shop.Coffee{{ID: 1, Name: "a", Price: 300}})
		case "POST /orders":
			var o shop.OrderRequest
			json.NewDecoder(r.Body).Decode(&o)
			f.mu.Lock()
			f.orders = append(f.orders, o)
			f.mu.Unlock()
			shop.WriteJSON(w, 201, shop.Order{ID: 5, CoffeeID: o.CoffeeID, Quantity: o.Quantity, Total: 300 * o.Quantity, PaymentID: o.PaymentID})
		case "GET /orders/5":
			shop.WriteJSON(w, 200, shop.Order{ID: 5})
		default:
			shop.Error(w, 404, "no such thing")
		}
	}))
	f.payments = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		json.NewDecoder(r.Body).Decode(&p)
		f.mu.Lock()
		f.pays = append(f.pays, p)
		f.mu.Unlock()
		status := "approved"
		if strings.HasSuffix(p["card"].(string), "0000") {
			status = "declined"
		}
		shop.WriteJSON(w, 200, map[string]any{"id": "pay-1", "status": status})
	}))
	t.Cleanup(f.products.Close)
	t.Cleanup(f.payments.Close)
	return f
}

func (f *fakes) handler() http.Handler {
	env := map[string]string{"PRODUCT_API_URI": f.products.URL, "PAYMENTS_URI": f.payments.URL}
	getenv := func(k string) string { return env[k] }
	return newHandler(shop.Upstream{Env: "PRODUCT_API_URI", Getenv: getenv}, shop.Upstream{Env: "PAYMENTS_URI", Getenv: getenv})
}

func post(t *testing.T, h http.Handler, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, strings.NewReader(body)))
	return rec
}

// An order is priced from the menu, paid (the card goes to payments only)
// and placed with the payment's id.
func TestOrderIsPaidThenPlaced(t *testing.T) {
	f := newFakes(t)
	rec := post(t, f.handler(), "/api/orders", `{"coffee_id":1,"quantity":2,"card":"4242424242424242"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST /api/orders: %d %s", rec.Code, rec.Body)
	}
	var o shop.Order
	json.Unmarshal(rec.Body.Bytes(), &o)
	if o.ID != 5 || o.PaymentID != "pay-1" || o.Total != 600 {
		t.Fatalf("order %+v", o)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pays) != 1 || f.pays[0]["amount"] != float64(600) || f.pays[0]["card"] != "4242424242424242" {
		t.Fatalf("payments got %+v", f.pays)
	}
	if len(f.orders) != 1 || f.orders[0].Card != "" || f.orders[0].PaymentID != "pay-1" {
		t.Fatalf("product API got %+v (the card must not leave the edge)", f.orders)
	}
}

func TestOrderErrors(t *testing.T) {
	f := newFakes(t)
	h := f.handler()
	for _, tc := range []struct {
		name, body string
		code       int
	}{
		{"declined", `{"coffee_id":1,"quantity":1,"card":"4000000000000000"}`, http.StatusPaymentRequired},
		{"unknown coffee", `{"coffee_id":9,"quantity":1,"card":"1"}`, http.StatusBadRequest},
		{"no quantity", `{"coffee_id":1,"card":"1"}`, http.StatusBadRequest},
		{"bad JSON", `[`, http.StatusBadRequest},
	} {
		if rec := post(t, h, "/api/orders", tc.body); rec.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.code)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.orders) != 0 {
		t.Fatalf("orders placed despite errors: %+v", f.orders)
	}
}

func TestReadsAndMissingUpstreams(t *testing.T) {
	f := newFakes(t)
	h := f.handler()
	for path, want := range map[string]int{"/api/coffees": 200, "/api/orders/5": 200, "/api/orders/6": 404, "/api/orders/x": 400, "/health": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d %s, want %d", path, rec.Code, rec.Body, want)
		}
	}
	none := func(string) string { return "" }
	empty := newHandler(shop.Upstream{Env: "PRODUCT_API_URI", Getenv: none}, shop.Upstream{Env: "PAYMENTS_URI", Getenv: none})
	rec := httptest.NewRecorder()
	empty.ServeHTTP(rec, httptest.NewRequest("GET", "/api/coffees", nil))
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(string(b), "PRODUCT_API_URI") {
		t.Fatalf("without upstreams: %d %s, want 503 naming PRODUCT_API_URI", rec.Code, b)
	}
}
