package config

import (
	"errors"
	"testing"
)

func TestAdvertiseKey(t *testing.T) {
	cfg := Default()
	if err := ParseFile("agent.hcl", []byte("advertise = \"10.1.2.3\"\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Advertise != "10.1.2.3" || cfg.Validate() != nil {
		t.Fatalf("advertise = %q, validate %v", cfg.Advertise, cfg.Validate())
	}
	cfg.Advertise = "pi.local"
	if err := cfg.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a host name as advertise address validated: %v", err)
	}
}
