// Command product-api is the edge shop's product API: it serves the menu
// and places orders by calling the database (shop-db).
//
//	GET  /health        200 once the database's address is known, else 503
//	GET  /coffees       the menu, from the database
//	GET  /orders/{id}   one order
//	POST /orders        {"coffee_id":1,"quantity":2,"payment_id":"..."} → the stored order
//
// The database's address comes from DB_CONNECTION, a libpq-style string
// ("host=10.0.0.5 port=5432 dbname=shop") rendered by the job's template
// from the shop-db service, or from DB_ADDR (host:port). It listens on the
// group port "api".
package main

import (
	"context"
	"io"
	"log"
	"os"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

func main() { os.Exit(run(os.Getenv, os.Stderr)) }

func run(getenv func(string) string, stderr io.Writer) int {
	logger := log.New(stderr, "product-api: ", log.LstdFlags)
	db, err := dbURL(getenv)
	if err != nil {
		logger.Printf("%v; serving 503 until the template gives an address", err)
	}
	addr, err := shop.ListenAddr("api", getenv)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if err := shop.Serve(context.Background(), addr, newHandler(db), logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}
