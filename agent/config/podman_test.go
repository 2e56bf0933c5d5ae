package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPodmanDefaultRegistry(t *testing.T) {
	if got := Default().Podman.DefaultRegistry; got != "docker.io" {
		t.Fatalf("default = %q, want docker.io", got)
	}
	for _, src := range []string{
		"podman { default_registry = \"registry.example.com:5000\" }\n",
		"podman = { default_registry = \"registry.example.com:5000\" }\n",
	} {
		cfg := Default()
		if err := ParseFile("a.hcl", []byte(src), &cfg); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if cfg.Podman.DefaultRegistry != "registry.example.com:5000" {
			t.Fatalf("%q: default_registry = %q", src, cfg.Podman.DefaultRegistry)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: Validate: %v", src, err)
		}
	}
	cfg := Default()
	if err := ParseFile("a.hcl", []byte("podman { default_registry = \"none\" }\n"), &cfg); err != nil || cfg.Validate() != nil {
		t.Fatalf("none: %v, %v", err, cfg.Validate())
	}
}

func TestPodmanBlockErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"podman { registry = \"docker.io\" }\n", `a.hcl:1: unknown key "registry" in the podman block (known: default_registry)`},
		{"podman = \"docker.io\"\n", `a.hcl:1: podman must be a block`},
	} {
		cfg := Default()
		err := ParseFile("a.hcl", []byte(tt.src), &cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.src, err, tt.want)
		}
	}
	cfg := Default()
	if err := ParseFile("a.hcl", []byte("podman { default_registry = \"myregistry\" }\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "podman { default_registry }") || !strings.Contains(err.Error(), "Docker Hub namespace") {
		t.Fatalf("Validate = %v, want the key named and why", err)
	}
}

func TestPodmanRegistryFlagOverridesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(file, []byte("name = \"n\"\npodman { default_registry = \"mirror.example.com\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(args ...string) (*Config, error) {
		fs := flag.NewFlagSet("agent", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f := RegisterFlags(fs)
		if err := fs.Parse(append([]string{"-config", file}, args...)); err != nil {
			t.Fatal(err)
		}
		return f.LoadEnv(func(string) (string, bool) { return "", false })
	}
	cfg, err := load()
	if err != nil || cfg.Podman.DefaultRegistry != "mirror.example.com" {
		t.Fatalf("file only: %v, %+v", err, cfg)
	}
	cfg, err = load("-podman-default-registry", "none")
	if err != nil || cfg.Podman.DefaultRegistry != "none" {
		t.Fatalf("flag: %v, %+v", err, cfg)
	}
	if _, err := load("-podman-default-registry", "https://docker.io"); err == nil || !strings.Contains(err.Error(), "-podman-default-registry") {
		t.Fatalf("bad flag: %v", err)
	}
}
