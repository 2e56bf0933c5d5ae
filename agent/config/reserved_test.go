package config

import (
	"flag"
	"strings"
	"testing"
)

func TestReservedBlock(t *testing.T) {
	cfg := Default()
	if err := ParseFile("agent.hcl", []byte("reserved {\n  cpu = 500\n  memory = 1_024\n}\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Reserved != (Reserved{CPU: 500, MemoryMB: 1024}) {
		t.Fatalf("reserved %+v", cfg.Reserved)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ src, want string }{
		{"reserved { reserved_ports = \"22\" }", "agent.hcl:1: reserved { reserved_ports } is not supported"},
		{"reserved { cores = 1 }", "reserve CPU in MHz instead"},
		{"reserved { gpu = 1 }", `unknown key "gpu" in the reserved block (known: cpu, memory)`},
		{"reserved { disk = 1024 }", "reserved { disk } is not supported: central's scheduler does not place by disk"},
		{"reserved { memory = \"lots\" }", `reserved { memory = "lots" }: want a whole number (MB), e.g. reserved { memory = 256 }`},
		{"reserved = 5", "reserved must be a block"},
	} {
		c := Default()
		err := ParseFile("agent.hcl", []byte(tt.src), &c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.src, err, tt.want)
		}
	}
	c := Default()
	c.Reserved.MemoryMB = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "reserved { memory = -1 } out of range") {
		t.Errorf("negative memory: %v", err)
	}
}

func TestReservedFlagsOverrideTheFile(t *testing.T) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"-reserved-memory", "128", "-reserved-cpu", "250"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.LoadEnv(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Reserved != (Reserved{CPU: 250, MemoryMB: 128}) {
		t.Fatalf("reserved %+v", cfg.Reserved)
	}
}
