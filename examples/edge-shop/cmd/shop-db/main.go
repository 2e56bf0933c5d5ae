// Command shop-db is the edge shop's database: a tiny HTTP service that
// serves the coffee menu and keeps orders in one JSON file, written with
// fsync and an atomic rename so orders survive a crash or a task restart.
//
//	GET  /health        ok
//	GET  /coffees       the menu
//	GET  /orders        every order
//	GET  /orders/{id}   one order
//	POST /orders        {"coffee_id":1,"quantity":2,"payment_id":"..."} → the stored order
//
// It listens on the group port "db" (NOMAD_IP_db:NOMAD_PORT_db) and keeps
// its file at $SHOP_DB_FILE (default ${NOMAD_ALLOC_DIR}/data/orders.json);
// it writes its pid next to it (shop-db.pid).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

func main() { os.Exit(run(os.Getenv, os.Stderr)) }

func run(getenv func(string) string, stderr io.Writer) int {
	logger := log.New(stderr, "shop-db: ", log.LstdFlags)
	if err := serve(getenv, logger); err != nil {
		logger.Print(err)
		return 1
	}
	return 0
}

func serve(getenv func(string) string, logger *log.Logger) error {
	file := getenv("SHOP_DB_FILE")
	if file == "" {
		dir := getenv("NOMAD_ALLOC_DIR")
		if dir == "" {
			return fmt.Errorf("set SHOP_DB_FILE or NOMAD_ALLOC_DIR: the database needs a file to keep orders in")
		}
		file = filepath.Join(dir, "data", "orders.json")
	}
	st, err := openStore(file)
	if err != nil {
		return err
	}
	pidFile := filepath.Join(filepath.Dir(file), "shop-db.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	addr, err := shop.ListenAddr("db", getenv)
	if err != nil {
		return err
	}
	logger.Printf("%d orders in %s", st.count(), file)
	return shop.Serve(context.Background(), addr, newHandler(st), logger)
}
