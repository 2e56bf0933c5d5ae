package server

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/cli"
	"github.com/tether-edge/tether/jobspec"
)

// tlsFiles makes a CA and a server certificate with `central tls`.
func tlsFiles(t testing.TB) (ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"tls", "ca", "create", "-out", dir}, {"tls", "cert", "create", "-server", "-out", dir}} {
		var out strings.Builder
		if code := cli.Run(args, &out, &out, func(string) string { return "" }); code != 0 {
			t.Fatalf("central %v: %d\n%s", args, code, out.String())
		}
	}
	return filepath.Join(dir, "tether-agent-ca.pem"), filepath.Join(dir, "global-server-tether.pem"), filepath.Join(dir, "global-server-tether-key.pem")
}

func TestTLSLoad(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	tests := []struct {
		name       string
		tls        TLS
		wantErr    string
		wantAuth   tls.ClientAuthType
		wantConfig bool
	}{
		{name: "off"},
		{name: "server cert and CA", tls: TLS{CAFile: ca, CertFile: cert, KeyFile: key}, wantConfig: true, wantAuth: tls.VerifyClientCertIfGiven},
		{name: "verify_client", tls: TLS{CAFile: ca, CertFile: cert, KeyFile: key, VerifyClient: true}, wantConfig: true, wantAuth: tls.RequireAndVerifyClientCert},
		{name: "no CA: system roots", tls: TLS{CertFile: cert, KeyFile: key}, wantConfig: true, wantAuth: tls.NoClientCert},
		{name: "CA only", tls: TLS{CAFile: ca}, wantErr: "cert_file and key_file"},
		{name: "verify_client without CA", tls: TLS{CertFile: cert, KeyFile: key, VerifyClient: true}, wantErr: "needs ca_file"},
		{name: "key of another cert", tls: TLS{CAFile: ca, CertFile: ca, KeyFile: key}, wantErr: "cert_file"},
		{name: "CA not PEM", tls: TLS{CAFile: key, CertFile: cert, KeyFile: key}, wantErr: "no PEM certificate"},
		{name: "missing CA", tls: TLS{CAFile: ca + ".nope", CertFile: cert, KeyFile: key}, wantErr: "ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tls.load()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.server != nil) != tt.wantConfig || (got.client != nil) != tt.wantConfig {
				t.Fatalf("configs %+v", got)
			}
			if got.server != nil && (got.server.ClientAuth != tt.wantAuth || got.server.MinVersion != tls.VersionTLS12 || len(got.client.Certificates) != 1) {
				t.Fatalf("server ClientAuth %v MinVersion %x, client certs %d", got.server.ClientAuth, got.server.MinVersion, len(got.client.Certificates))
			}
		})
	}
}

// TestTLSClusterJoinsAndForwards: three servers with verify_client join
// each other over HTTPS, a follower forwards a write to the leader
// presenting its own certificate, and members are probed over HTTPS.
func TestTLSClusterJoinsAndForwards(t *testing.T) {
	ca, cert, key := tlsFiles(t)
	cfgTLS := TLS{CAFile: ca, CertFile: cert, KeyFile: key, VerifyClient: true}
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var servers []*Server
	for i := range addrs {
		var join []string
		for j, a := range addrs {
			if j != i {
				join = append(join, a)
			}
		}
		s, err := New(Config{
			Name: fmt.Sprintf("s%d", i+1), DataDir: t.TempDir(), HTTPAddr: addrs[i], RaftAddr: "127.0.0.1:0",
			// Raft's default timings: Raft is mutual TLS too, and a
			// handshake under the race detector on a loaded machine can
			// outlast dev mode's 100 ms leader lease.
			MQTTAddr: "127.0.0.1:0", BootstrapExpect: 3, Join: join, TLS: cfgTLS,
		}, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		servers = append(servers, s)
	}
	leader := leaderOf(t, servers)
	var follower *Server
	for _, s := range servers {
		if s != leader {
			follower = s
		}
	}
	if !strings.HasPrefix(follower.HTTPURL(), "https://") || !strings.HasPrefix(follower.BrokerURLs()[0], "ssl://") {
		t.Fatalf("URLs %s and %v, want https:// and ssl://", follower.HTTPURL(), follower.BrokerURLs())
	}
	eventually(t, 10*time.Second, func() error {
		for _, m := range follower.Members() {
			if m.Status != "alive" {
				return fmt.Errorf("member %s is %s", m.Name, m.Status)
			}
		}
		return nil
	})

	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: follower.tls.client.RootCAs, Certificates: []tls.Certificate{pair}}}}
	body := []byte(`{"hcl": "job \"fwd\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config {\n        command = \"/bin/true\"\n      }\n    }\n  }\n}\n"}`)
	resp, err := client.Post(follower.HTTPURL()+"/v1/jobs", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("submit through a follower: %s: %s", resp.Status, b)
	}
	for _, s := range servers {
		eventually(t, 5*time.Second, func() error {
			if s.Store().JobByID(jobspec.DefaultNamespace, "fwd") == nil {
				return fmt.Errorf("%s does not have the job", s.cfg.Name)
			}
			return nil
		})
	}

	// Without a client certificate the API refuses the connection.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: follower.tls.client.RootCAs}}}
	if resp, err := noCert.Get(follower.HTTPURL() + "/v1/jobs"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET without a client certificate: %s, want a refused handshake", resp.Status)
	}
}
