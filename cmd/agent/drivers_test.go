package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers/podman"
)

// The agent's podman { default_registry } reaches the Podman driver.
func TestBuildDriversPodmanRegistry(t *testing.T) {
	for _, reg := range []string{"docker.io", "registry.example.com:5000", "none"} {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Podman.DefaultRegistry = reg
		ds, closeAll := buildDrivers(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		var got string
		for _, d := range ds {
			if p, ok := d.(*podman.Driver); ok {
				got = p.DefaultRegistry()
			}
		}
		closeAll()
		if got != reg {
			t.Errorf("podman driver's default registry = %q, want %q", got, reg)
		}
	}
}
