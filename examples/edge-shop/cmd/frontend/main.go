// Command frontend serves the edge shop's single page: the menu and an
// order form, both talking to /api/ on the same origin (the proxy routes
// it to the public API).
//
//	GET /         the page
//	GET /health   ok
//
// It listens on the group port "frontend".
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
	logger := log.New(stderr, "frontend: ", log.LstdFlags)
	addr, err := shop.ListenAddr("frontend", getenv)
	if err != nil {
		logger.Print(err)
		return 1
	}
	if err := shop.Serve(context.Background(), addr, newHandler(getenv("NOMAD_DC")), logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}
