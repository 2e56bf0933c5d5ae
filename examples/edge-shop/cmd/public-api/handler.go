package main

import (
	"net/http"
	"strconv"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

// payment is the payments service's answer to POST /pay.
type payment struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func newHandler(products, payments shop.Upstream) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/coffees", func(w http.ResponseWriter, r *http.Request) {
		base, err := products.URL()
		if err != nil {
			shop.Error(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		var cs []shop.Coffee
		if err := shop.Call(r.Context(), http.MethodGet, base+"/coffees", nil, &cs); err != nil {
			shop.Error(w, shop.StatusOf(err), err.Error())
			return
		}
		shop.WriteJSON(w, http.StatusOK, cs)
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		base, err := products.URL()
		if err != nil {
			shop.Error(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if _, err := strconv.Atoi(r.PathValue("id")); err != nil {
			shop.Error(w, http.StatusBadRequest, "order id must be a number")
			return
		}
		var o shop.Order
		if err := shop.Call(r.Context(), http.MethodGet, base+"/orders/"+r.PathValue("id"), nil, &o); err != nil {
			shop.Error(w, shop.StatusOf(err), err.Error())
			return
		}
		shop.WriteJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		var req shop.OrderRequest
		if err := shop.ReadJSON(r.Body, &req); err != nil {
			shop.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		if req.Quantity < 1 {
			shop.Error(w, http.StatusBadRequest, "quantity must be at least 1")
			return
		}
		base, err := products.URL()
		if err != nil {
			shop.Error(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		pay, err := payments.URL()
		if err != nil {
			shop.Error(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		var cs []shop.Coffee
		if err := shop.Call(r.Context(), http.MethodGet, base+"/coffees", nil, &cs); err != nil {
			shop.Error(w, shop.StatusOf(err), err.Error())
			return
		}
		price := -1
		for _, c := range cs {
			if c.ID == req.CoffeeID {
				price = c.Price
			}
		}
		if price < 0 {
			shop.Error(w, http.StatusBadRequest, "unknown coffee_id "+strconv.Itoa(req.CoffeeID)+": GET /api/coffees lists them")
			return
		}
		// The card goes to payments (at the edge) and nowhere else.
		var p payment
		if err := shop.Call(r.Context(), http.MethodPost, pay+"/pay",
			map[string]any{"amount": price * req.Quantity, "card": req.Card}, &p); err != nil {
			shop.Error(w, http.StatusBadGateway, "payment: "+err.Error())
			return
		}
		if p.Status != "approved" {
			shop.Error(w, http.StatusPaymentRequired, "payment "+p.ID+" was "+p.Status)
			return
		}
		var o shop.Order
		if err := shop.Call(r.Context(), http.MethodPost, base+"/orders",
			shop.OrderRequest{CoffeeID: req.CoffeeID, Quantity: req.Quantity, PaymentID: p.ID}, &o); err != nil {
			shop.Error(w, shop.StatusOf(err), err.Error())
			return
		}
		shop.WriteJSON(w, http.StatusCreated, o)
	})
	return mux
}
