// Command proxy is the edge shop's reverse proxy (the tutorial's NGINX):
// /api/ goes to the public API, everything else to the frontend.
//
//	GET /health   ok (the proxy itself)
//	/api/...      → PUBLIC_API_URI
//	/...          → FRONTEND_URI
//
// Both upstreams are http://host:port. It listens on the group port
// "http".
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
	logger := log.New(stderr, "proxy: ", log.LstdFlags)
	h, err := newHandler(getenv("PUBLIC_API_URI"), getenv("FRONTEND_URI"), logger)
	if err != nil {
		logger.Print(err)
		return 1
	}
	addr, err := shop.ListenAddr("http", getenv)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if err := shop.Serve(context.Background(), addr, h, logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}
