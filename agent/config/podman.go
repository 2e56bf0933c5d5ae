package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tether-edge/tether/drivers/podman"
)

// Podman is the podman block of the config file: settings of the Podman
// driver on this node.
type Podman struct {
	// DefaultRegistry is the registry of an image that names none
	// (default_registry, -podman-default-registry): "docker.io" (the
	// default, as Docker and Nomad's Docker driver assume), another
	// registry host[:port], or "none" for Podman's own short-name rules.
	DefaultRegistry string
}

// podmanKeys are the keys of the podman block.
var podmanKeys = []string{"default_registry"}

func setPodman(cfg *Config, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "default_registry":
			cfg.Podman.DefaultRegistry = m[k]
		default:
			return fmt.Errorf("unknown key %q in the podman block (known: %s)", k, strings.Join(podmanKeys, ", "))
		}
	}
	return nil
}

// validate checks the podman block; errors name the key and the fix.
func (p Podman) validate() error {
	if err := podman.CheckDefaultRegistry(p.DefaultRegistry); err != nil {
		return fmt.Errorf("%w: podman { default_registry } (-podman-default-registry): %v", ErrInvalid, err)
	}
	return nil
}
