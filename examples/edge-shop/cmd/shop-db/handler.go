package main

import (
	"net/http"
	"strconv"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

func newHandler(s *store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /coffees", func(w http.ResponseWriter, r *http.Request) {
		shop.WriteJSON(w, http.StatusOK, menu)
	})
	mux.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		shop.WriteJSON(w, http.StatusOK, s.orders())
	})
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.PathValue("id"))
		if err != nil {
			shop.Error(w, http.StatusBadRequest, "order id must be a number")
			return
		}
		o, err := s.order(id)
		if err != nil {
			shop.Error(w, http.StatusNotFound, "order "+r.PathValue("id")+" not found")
			return
		}
		shop.WriteJSON(w, http.StatusOK, o)
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var req shop.OrderRequest
		if err := shop.ReadJSON(r.Body, &req); err != nil {
			shop.Error(w, http.StatusBadRequest, err.Error())
			return
		}
		c, ok := coffeeByID(req.CoffeeID)
		if !ok {
			shop.Error(w, http.StatusBadRequest, "unknown coffee_id "+strconv.Itoa(req.CoffeeID)+": GET /coffees lists them")
			return
		}
		if req.Quantity < 1 || req.Quantity > 100 {
			shop.Error(w, http.StatusBadRequest, "quantity must be 1 to 100")
			return
		}
		o, err := s.add(shop.Order{CoffeeID: c.ID, Quantity: req.Quantity, Total: c.Price * req.Quantity, PaymentID: req.PaymentID})
		if err != nil {
			shop.Error(w, http.StatusInternalServerError, err.Error())
			return
		}
		shop.WriteJSON(w, http.StatusCreated, o)
	})
	return mux
}
