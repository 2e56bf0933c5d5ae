package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

// errNoDB is returned when neither DB_CONNECTION nor DB_ADDR is usable.
var errNoDB = errors.New("no database address")

// dbURL returns the database's base URL from DB_CONNECTION or DB_ADDR.
func dbURL(getenv func(string) string) (string, error) {
	if c := strings.TrimSpace(getenv("DB_CONNECTION")); c != "" {
		kv := map[string]string{}
		for _, f := range strings.Fields(c) {
			if k, v, ok := strings.Cut(f, "="); ok {
				kv[k] = v
			}
		}
		if kv["host"] == "" || kv["port"] == "" {
			return "", fmt.Errorf("%w: DB_CONNECTION %q needs host= and port=", errNoDB, c)
		}
		return "http://" + net.JoinHostPort(kv["host"], kv["port"]), nil
	}
	if a := strings.TrimSpace(getenv("DB_ADDR")); a != "" {
		return "http://" + a, nil
	}
	return "", fmt.Errorf("%w: DB_CONNECTION and DB_ADDR are empty", errNoDB)
}

// newHandler serves the API in front of the database at db ("" = unknown).
func newHandler(db string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if db == "" {
			shop.Error(w, http.StatusServiceUnavailable, "database address unknown")
			return
		}
		w.Write([]byte("ok\n"))
	})
	forward := func(method, path string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if db == "" {
				shop.Error(w, http.StatusServiceUnavailable, "database address unknown: is shop-db registered and healthy?")
				return
			}
			var body any
			if method == http.MethodPost {
				var req shop.OrderRequest
				if err := shop.ReadJSON(r.Body, &req); err != nil {
					shop.Error(w, http.StatusBadRequest, err.Error())
					return
				}
				body = req
			}
			p := path
			if id := r.PathValue("id"); id != "" {
				p += "/" + id
			}
			var out any
			if err := shop.Call(r.Context(), method, db+p, body, &out); err != nil {
				shop.Error(w, shop.StatusOf(err), err.Error())
				return
			}
			code := http.StatusOK
			if method == http.MethodPost {
				code = http.StatusCreated
			}
			shop.WriteJSON(w, code, out)
		}
	}
	mux.HandleFunc("GET /coffees", forward(http.MethodGet, "/coffees"))
	mux.HandleFunc("GET /orders/{id}", forward(http.MethodGet, "/orders"))
	mux.HandleFunc("POST /orders", forward(http.MethodPost, "/orders"))
	return mux
}
