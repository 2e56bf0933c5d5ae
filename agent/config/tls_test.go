package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed ECDSA certificate and its key; pkcs8
// writes the key as "PRIVATE KEY" instead of "EC PRIVATE KEY".
func writeCert(t *testing.T, dir, name string, pkcs8 bool) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	kb, typ := []byte(nil), "EC PRIVATE KEY"
	if pkcs8 {
		kb, _ = x509.MarshalPKCS8PrivateKey(k)
		typ = "PRIVATE KEY"
	} else {
		kb, _ = x509.MarshalECPrivateKey(k)
	}
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: kb}), 0o600)
	return cert, key
}

func TestParseFileTLSBlock(t *testing.T) {
	cfg := Default()
	src := "tls {\n  ca_file = \"/etc/tether/ca.pem\"\n  cert_file = \"/etc/tether/c.pem\"\n  key_file = \"/etc/tether/k.pem\"\n}\n"
	if err := ParseFile("a.hcl", []byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	want := TLS{CAFile: "/etc/tether/ca.pem", CertFile: "/etc/tether/c.pem", KeyFile: "/etc/tether/k.pem"}
	if cfg.TLS != want {
		t.Fatalf("tls %+v, want %+v", cfg.TLS, want)
	}
	for src, wantErr := range map[string]string{
		"tls { cafile = \"x\" }":          `unknown key "cafile" in the tls block`,
		"tls = \"x\"":                     "tls must be a block",
		"tls { ca_file = \"x\" }\ntls {}": "tls is set twice",
	} {
		cfg := Default()
		err := ParseFile("a.hcl", []byte(src), &cfg)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: err %v, want %q", src, err, wantErr)
		}
	}
}

func TestTLSFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	ca, _ := writeCert(t, dir, "ca", false)
	cert, key := writeCert(t, dir, "client", false)
	file := filepath.Join(dir, "agent.hcl")
	os.WriteFile(file, []byte("name = \"n\"\ntls { ca_file = \"/nonexistent/ca.pem\" }\n"), 0o644)
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"-config", file, "-tls-ca-file", ca, "-tls-cert-file", cert, "-tls-key-file", key}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS != (TLS{CAFile: ca, CertFile: cert, KeyFile: key}) {
		t.Fatalf("tls %+v", cfg.TLS)
	}
}

func TestTLSClientConfig(t *testing.T) {
	dir := t.TempDir()
	ca, _ := writeCert(t, dir, "ca", false)
	cert, key := writeCert(t, dir, "client", false)
	_, otherKey := writeCert(t, dir, "other", false)
	p8cert, p8key := writeCert(t, dir, "p8", true)
	tests := []struct {
		name      string
		tls       TLS
		wantErr   string
		wantRoots bool
		wantCert  bool
	}{
		{name: "off"},
		{name: "ca only", tls: TLS{CAFile: ca}, wantRoots: true},
		{name: "cert only: system roots", tls: TLS{CertFile: cert, KeyFile: key}, wantCert: true},
		{name: "all", tls: TLS{CAFile: ca, CertFile: cert, KeyFile: key}, wantRoots: true, wantCert: true},
		{name: "cert without key", tls: TLS{CertFile: cert}, wantErr: "go together"},
		{name: "missing ca", tls: TLS{CAFile: filepath.Join(dir, "no.pem")}, wantErr: "tls ca_file"},
		{name: "ca is a key", tls: TLS{CAFile: key}, wantErr: "holds no PEM certificate"},
		{name: "key of another cert", tls: TLS{CertFile: cert, KeyFile: otherKey}, wantErr: "not the private key"},
		{name: "PKCS#8 key", tls: TLS{CertFile: p8cert, KeyFile: p8key}, wantErr: "ECDSA keys only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.tls.ClientConfig()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				cfg := Default()
				cfg.TLS = tt.tls
				if err := cfg.Validate(); err == nil {
					t.Fatal("Validate accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c != nil && c.RootCAs != nil) != tt.wantRoots || (c != nil && len(c.Certificates) == 1) != tt.wantCert {
				t.Fatalf("config %+v", c)
			}
		})
	}
}
