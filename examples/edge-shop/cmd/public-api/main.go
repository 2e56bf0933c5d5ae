// Command public-api is the edge shop's public API, the one the proxy
// exposes under /api/. It reads the menu from the product API, takes
// payment from the payments service and then places the order.
//
//	GET  /health             ok
//	GET  /api/coffees        the menu
//	POST /api/orders         {"coffee_id":1,"quantity":2,"card":"4242..."} → the order
//	GET  /api/orders/{id}    one order
//
// Upstreams: PRODUCT_API_URI and PAYMENTS_URI (http://host:port), set by
// env = true templates; when one is empty it is read again, on every
// request, from the template's file (PRODUCT_API_FILE, PAYMENTS_FILE), so
// change_mode = "noop" still picks up a late registration. It listens on
// the group port "public".
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
	logger := log.New(stderr, "public-api: ", log.LstdFlags)
	addr, err := shop.ListenAddr("public", getenv)
	if err != nil {
		logger.Print(err)
		return 1
	}
	h := newHandler(
		shop.Upstream{Env: "PRODUCT_API_URI", File: getenv("PRODUCT_API_FILE"), Getenv: getenv},
		shop.Upstream{Env: "PAYMENTS_URI", File: getenv("PAYMENTS_FILE"), Getenv: getenv},
	)
	if err := shop.Serve(context.Background(), addr, h, logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}
