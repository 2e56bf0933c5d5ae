package config

import (
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGCDefaults(t *testing.T) {
	c := Default()
	if c.GCInterval != time.Minute || c.GCMaxAllocs != 50 || c.GCDiskUsageThreshold != 80 {
		t.Fatalf("defaults: %s %d %v (want Nomad's 1m, 50, 80)", c.GCInterval, c.GCMaxAllocs, c.GCDiskUsageThreshold)
	}
}

func TestGCKeysFileAndFlags(t *testing.T) {
	cfg := Default()
	src := "gc_interval = \"30s\"\ngc_max_allocs = 10\ngc_disk_usage_threshold = 92.5\n"
	if err := ParseFile("agent.hcl", []byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.GCInterval != 30*time.Second || cfg.GCMaxAllocs != 10 || cfg.GCDiskUsageThreshold != 92.5 {
		t.Fatalf("file: %s %d %v", cfg.GCInterval, cfg.GCMaxAllocs, cfg.GCDiskUsageThreshold)
	}
	cfg = Default()
	if err := ParseFile("agent.hcl", []byte("gc_interval = 90\n"), &cfg); err != nil || cfg.GCInterval != 90*time.Second {
		t.Fatalf("interval as seconds: %s %v", cfg.GCInterval, err)
	}

	file := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(file, []byte("name = \"n\"\n"+src), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"-config", file, "-gc-max-allocs", "5", "-gc-interval", "2m"}); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got.GCInterval != 2*time.Minute || got.GCMaxAllocs != 5 || got.GCDiskUsageThreshold != 92.5 {
		t.Fatalf("flags over file: %s %d %v", got.GCInterval, got.GCMaxAllocs, got.GCDiskUsageThreshold)
	}

	fs = flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f = RegisterFlags(fs)
	if err := fs.Parse([]string{"-name", "n", "-gc-disk-usage-threshold", "0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "gc_disk_usage_threshold 0 out of range") {
		t.Fatalf("a bad flag is validated at load: %v", err)
	}
}

func TestGCKeysFileErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"gc_interval = \"1 minute\"\n", `a.hcl:1: gc_interval "1 minute" is not a duration: use e.g. gc_interval = "1m"`},
		{"gc_interval = [\"1m\"]\n", `a.hcl:1: gc_interval must be a duration, got a list`},
		{"gc_max_allocs = \"10\"\n", `a.hcl:1: gc_max_allocs must be a whole number of allocations, got a string 10: e.g. gc_max_allocs = 50`},
		{"\ngc_max_allocs = 2.5\n", `a.hcl:2: gc_max_allocs must be a whole number`},
		{"gc_disk_usage_threshold = \"80%\"\n", `a.hcl:1: gc_disk_usage_threshold must be a percentage (a number), got a string 80%`},
		{"\ngc_inode_usage_threshold = 70\n", `a.hcl:2: gc_inode_usage_threshold is not supported: the allocation GC watches the data dir's disk space (gc_disk_usage_threshold) and the number of directories (gc_max_allocs), not its inodes`},
		{"gc_parallel_destroys = 2\n", `a.hcl:1: gc_parallel_destroys is not supported: the agent removes one allocation directory at a time`},
	} {
		cfg := Default()
		err := ParseFile("a.hcl", []byte(tt.src), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.src, err, tt.want)
		}
	}
}

func TestGCValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"threshold 100 turns the disk check off", func(c *Config) { c.GCDiskUsageThreshold = 100 }, ""},
		{"interval too short", func(c *Config) { c.GCInterval = 500 * time.Millisecond }, "gc_interval 500ms out of range: use a duration between 1s and 168h"},
		{"interval too long", func(c *Config) { c.GCInterval = 8 * 24 * time.Hour }, "gc_interval 192h0m0s out of range"},
		{"max allocs 0", func(c *Config) { c.GCMaxAllocs = 0 }, "gc_max_allocs 0 out of range: use a number of allocations between 1 and 100000"},
		{"max allocs negative", func(c *Config) { c.GCMaxAllocs = -1 }, "gc_max_allocs -1 out of range"},
		{"threshold 0", func(c *Config) { c.GCDiskUsageThreshold = 0 }, "gc_disk_usage_threshold 0 out of range"},
		{"threshold over 100", func(c *Config) { c.GCDiskUsageThreshold = 101 }, "gc_disk_usage_threshold 101 out of range"},
		{"threshold NaN", func(c *Config) { c.GCDiskUsageThreshold = math.NaN() }, "gc_disk_usage_threshold NaN out of range"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Name = "n1"
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
