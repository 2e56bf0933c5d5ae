package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/exec"
	"github.com/tether-edge/tether/drivers/podman"
	"github.com/tether-edge/tether/drivers/wasm"
)

// buildDrivers returns every driver this agent can offer, and a function
// that releases them. A driver that cannot start here is left out with a
// log line; Detect decides which of the others are healthy on this node
// (Podman counts only when its API socket answers).
func buildDrivers(cfg *config.Config, logger *slog.Logger) ([]drivers.Driver, func()) {
	ds := []drivers.Driver{exec.New(logger)}
	var closers []func()
	w, err := wasm.New(wasm.Options{Logger: logger, CacheDir: filepath.Join(cfg.DataDir, "wasm-cache")})
	if err != nil {
		logger.Warn("wasm driver unavailable", "err", err)
	} else {
		ds = append(ds, w)
		closers = append(closers, func() { w.Close(context.Background()) })
	}
	// Podman's API socket: $CONTAINER_HOST (unix://...) or the system one.
	ds = append(ds, podman.New(podman.Options{Logger: logger, DefaultRegistry: cfg.Podman.DefaultRegistry}))
	return ds, func() {
		for _, c := range closers {
			c()
		}
	}
}
