package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func parsePEMCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", b)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCertChainSANsUsages(t *testing.T) {
	now := time.Now()
	caPEM, caKeyPEM, err := newCA("tether", now, 10)
	if err != nil {
		t.Fatal(err)
	}
	ca := parsePEMCert(t, caPEM)
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA: IsCA %v MaxPathLenZero %v KeyUsage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if pk, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Fatalf("CA key is %T, want ECDSA P-256", ca.PublicKey)
	}
	if d := ca.NotAfter.Sub(now); d < 10*24*time.Hour-time.Minute || d > 10*24*time.Hour+time.Minute {
		t.Fatalf("CA valid for %v, want 10 days", d)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "ca-key.pem"), caKeyPEM, 0o600)
	caCert, caKey, err := loadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	tests := []struct {
		kind     string
		wantDNS  []string
		wantIPs  []string
		wantEKUs []x509.ExtKeyUsage
	}{
		{"server", []string{"server.eu.tether", "localhost", "central.example"}, []string{"127.0.0.1", "10.0.0.7"},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"client", []string{"client.eu.tether", "localhost", "central.example"}, []string{"127.0.0.1", "10.0.0.7"},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			req := certRequest{Kind: tt.kind, Region: "eu", Domain: "tether", DNSNames: []string{"central.example"},
				IPs: []net.IP{net.ParseIP("10.0.0.7")}, Days: 5}
			certPEM, keyPEM, err := newCert(caCert, caKey, req, now)
			if err != nil {
				t.Fatal(err)
			}
			c := parsePEMCert(t, certPEM)
			if !slices.Equal(c.DNSNames, tt.wantDNS) {
				t.Errorf("DNS names %v, want %v", c.DNSNames, tt.wantDNS)
			}
			var ips []string
			for _, ip := range c.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPs %v, want %v", ips, tt.wantIPs)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.wantEKUs) || c.KeyUsage != x509.KeyUsageDigitalSignature || c.IsCA {
				t.Errorf("usages: ext %v key %v IsCA %v", c.ExtKeyUsage, c.KeyUsage, c.IsCA)
			}
			if d := c.NotAfter.Sub(now); d < 5*24*time.Hour-time.Minute || d > 5*24*time.Hour+time.Minute {
				t.Errorf("valid for %v, want 5 days", d)
			}
			for _, eku := range tt.wantEKUs {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{eku}, CurrentTime: now}); err != nil {
					t.Errorf("chain does not verify for %v: %v", eku, err)
				}
			}
			if tt.kind == "client" {
				if _, err := c.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, CurrentTime: now}); err == nil {
					t.Error("a client certificate verifies for server auth")
				}
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.AddDate(0, 0, 6)}); err == nil {
				t.Error("certificate still verifies after it expired")
			}
			blk, _ := pem.Decode(keyPEM)
			key, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil || !key.PublicKey.Equal(c.PublicKey) {
				t.Errorf("key does not match the certificate: %v", err)
			}
		})
	}
	if _, _, err := newCert(caCert, caKey, certRequest{Kind: "server", Region: "g", Domain: "tether", Days: 11}, now); err == nil || !strings.Contains(err.Error(), "outlive") {
		t.Errorf("a certificate outliving its CA: err %v", err)
	}
}

func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := Run(args, &out, &out, func(string) string { return "" })
	return out.String(), code
}

func TestTLSVerbsWriteFiles(t *testing.T) {
	dir := t.TempDir()
	if out, code := runCLI(t, "tls", "ca", "create", "-out", dir); code != 0 {
		t.Fatalf("ca create: %d\n%s", code, out)
	}
	if out, code := runCLI(t, "tls", "ca", "create", "-out", dir); code != exitError || !strings.Contains(out, "already exists") {
		t.Fatalf("second ca create: %d, want a refusal to overwrite\n%s", code, out)
	}
	if out, code := runCLI(t, "tls", "cert", "create", "-server", "-out", dir, "-additional-ipaddress", "10.1.2.3", "-region", "eu"); code != 0 {
		t.Fatalf("cert create -server: %d\n%s", code, out)
	}
	if out, code := runCLI(t, "tls", "cert", "create", "-client", "-out", dir); code != 0 {
		t.Fatalf("cert create -client: %d\n%s", code, out)
	}
	for name, mode := range map[string]os.FileMode{
		"tether-agent-ca.pem": 0o644, "tether-agent-ca-key.pem": 0o600,
		"eu-server-tether.pem": 0o644, "eu-server-tether-key.pem": 0o600,
		"global-client-tether.pem": 0o644, "global-client-tether-key.pem": 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "eu-server-tether.pem"))
	c := parsePEMCert(t, b)
	if !slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool { return ip.String() == "10.1.2.3" }) {
		t.Errorf("server certificate IPs %v lack 10.1.2.3", c.IPAddresses)
	}

	for _, bad := range [][]string{
		{"tls", "cert", "create", "-out", dir},
		{"tls", "cert", "create", "-server", "-client", "-out", dir},
		{"tls", "cert", "create", "-server", "-additional-ipaddress", "nope", "-out", dir},
		{"tls", "ca", "create", "-days", "0", "-out", dir},
	} {
		if out, code := runCLI(t, bad...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", bad, code, exitUsage, out)
		}
	}
	if out, code := runCLI(t, "tls", "cert", "create", "-server", "-out", t.TempDir()); code != exitError || !strings.Contains(out, "central tls ca create") {
		t.Errorf("cert create without a CA: %d\n%s", code, out)
	}
}

func TestClientTLSConfig(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, "tls", "ca", "create", "-out", dir)
	runCLI(t, "tls", "cert", "create", "-client", "-out", dir)
	ca, cert, key := filepath.Join(dir, "tether-agent-ca.pem"), filepath.Join(dir, "global-client-tether.pem"), filepath.Join(dir, "global-client-tether-key.pem")
	tests := []struct {
		name              string
		ca, cert, key     string
		wantErr           string
		wantRoots, wantCs bool
	}{
		{name: "none"},
		{name: "ca only", ca: ca, wantRoots: true},
		{name: "all", ca: ca, cert: cert, key: key, wantRoots: true, wantCs: true},
		{name: "cert without key", ca: ca, cert: cert, wantErr: "-client-key"},
		{name: "missing ca", ca: filepath.Join(dir, "nope.pem"), wantErr: "CENTRAL_CACERT"},
		{name: "ca not PEM", ca: key + "x", wantErr: "CENTRAL_CACERT"},
	}
	os.WriteFile(key+"x", []byte("junk"), 0o600)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := clientTLSConfig(tt.ca, tt.cert, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (c != nil && c.RootCAs != nil) != tt.wantRoots || (c != nil && len(c.Certificates) > 0) != tt.wantCs {
				t.Fatalf("config %+v", c)
			}
		})
	}
}
