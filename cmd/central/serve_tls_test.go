package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-edge/tether/central/server"
)

func TestServerConfigTLSBlockAndFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "central.hcl")
	os.WriteFile(file, []byte(`
data_dir = "/var/lib/tether"
tls {
  ca_file       = "/etc/tether/ca.pem"
  cert_file     = "/etc/tether/server.pem"
  key_file      = "/etc/tether/server-key.pem"
  verify_client = true
}
`), 0o644)
	tests := []struct {
		name string
		args []string
		want server.TLS
	}{
		{"file", []string{"-config", file},
			server.TLS{CAFile: "/etc/tether/ca.pem", CertFile: "/etc/tether/server.pem", KeyFile: "/etc/tether/server-key.pem", VerifyClient: true}},
		{"flags override the file", []string{"-config", file, "-tls-cert-file", "/x/s.pem", "-tls-key-file", "/x/k.pem"},
			server.TLS{CAFile: "/etc/tether/ca.pem", CertFile: "/x/s.pem", KeyFile: "/x/k.pem", VerifyClient: true}},
		{"flags only", []string{"-tls-ca-file", "/ca.pem", "-tls-cert-file", "/s.pem", "-tls-key-file", "/k.pem", "-tls-verify-client"},
			server.TLS{CAFile: "/ca.pem", CertFile: "/s.pem", KeyFile: "/k.pem", VerifyClient: true}},
		{"none", nil, server.TLS{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, _, err := serverFlags("server", tt.args, io.Discard, false)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TLS != tt.want {
				t.Fatalf("tls %+v, want %+v", cfg.TLS, tt.want)
			}
			if tt.want == (server.TLS{}) && cfg.TLS.Enabled() {
				t.Fatal("TLS enabled without a tls block")
			}
		})
	}
}

func TestDevAgentTLS(t *testing.T) {
	if got := devAgentTLS(server.TLS{}); len(got) != 0 {
		t.Errorf("no TLS: %v", got)
	}
	got := devAgentTLS(server.TLS{CAFile: "ca", CertFile: "s", KeyFile: "k"})
	if len(got) != 2 || got[1] != "ca" {
		t.Errorf("TLS without verify_client: %v, want only the CA", got)
	}
	got = devAgentTLS(server.TLS{CAFile: "ca", CertFile: "s", KeyFile: "k", VerifyClient: true})
	if len(got) != 6 || got[3] != "s" || got[5] != "k" {
		t.Errorf("verify_client: %v, want the CA and the server's certificate", got)
	}
}
