package test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsFiles are the certificates made by `central tls` for a test.
type tlsFiles struct {
	dir                   string
	ca                    string
	serverCert, serverKey string
	clientCert, clientKey string
}

// makeTLSFiles runs `central tls ca create` and `central tls cert create
// -server` / `-client` into dir, as the quick start in docs/tls.md does.
func makeTLSFiles(t testing.TB, dir string) tlsFiles {
	t.Helper()
	for _, args := range [][]string{
		{"tls", "ca", "create", "-out", dir},
		{"tls", "cert", "create", "-server", "-out", dir},
		{"tls", "cert", "create", "-client", "-out", dir},
	} {
		if out, err := exec.Command(bins.central, args...).CombinedOutput(); err != nil {
			t.Fatalf("central %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return tlsFiles{dir: dir, ca: filepath.Join(dir, "tether-agent-ca.pem"),
		serverCert: filepath.Join(dir, "global-server-tether.pem"), serverKey: filepath.Join(dir, "global-server-tether-key.pem"),
		clientCert: filepath.Join(dir, "global-client-tether.pem"), clientKey: filepath.Join(dir, "global-client-tether-key.pem")}
}

// serverArgs are central's flags for these files.
func (f tlsFiles) serverArgs() []string {
	return []string{"-tls-ca-file", f.ca, "-tls-cert-file", f.serverCert, "-tls-key-file", f.serverKey}
}

// agentArgs are the agent's flags: the CA, and the client certificate
// when withCert.
func (f tlsFiles) agentArgs(withCert bool) []string {
	args := []string{"-tls-ca-file", f.ca}
	if withCert {
		args = append(args, "-tls-cert-file", f.clientCert, "-tls-key-file", f.clientKey)
	}
	return args
}

// httpsClient trusts the CA and presents the client certificate.
func (f tlsFiles) httpsClient(t testing.TB) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
}

// tlsCentral is a central server started with a tls block.
type tlsCentral struct {
	t      testing.TB
	files  tlsFiles
	http   string // host:port
	broker string // ssl://host:port
	client *http.Client
	proc   *proc
}

// startTLSCentral starts central with TLS on; broker "" runs the
// embedded broker (over TLS), extra are more flags.
func startTLSCentral(t testing.TB, f tlsFiles, broker string, extra ...string) *tlsCentral {
	t.Helper()
	c := &tlsCentral{t: t, files: f, http: fmt.Sprintf("127.0.0.1:%d", freePort(t)), client: f.httpsClient(t)}
	args := []string{"server", "-data-dir", filepath.Join(t.TempDir(), "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	if broker == "" {
		mq := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args = append(args, "-mqtt", mq)
		c.broker = "ssl://" + mq
	} else {
		args = append(args, "-broker", broker)
		c.broker = broker
	}
	args = append(append(args, f.serverArgs()...), extra...)
	c.proc = start(t, "central (tls)", bins.central, args...)
	eventually(t, 20*time.Second, func() error {
		var leader string
		if err := c.get("/v1/status/leader", &leader); err != nil {
			return err
		}
		if leader == "" {
			return fmt.Errorf("no leader yet")
		}
		return nil
	})
	return c
}

func (c *tlsCentral) get(path string, v any) error {
	resp, err := c.client.Get("https://" + c.http + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// startAgent starts an agent on the cluster's broker with extra flags.
func (c *tlsCentral) startAgent(name string, extra ...string) *proc {
	c.t.Helper()
	args := append([]string{"-name", name, "-datacenter", "dc1", "-broker", c.broker,
		"-data-dir", filepath.Join(c.t.TempDir(), "agent"), "-heartbeat", "1s", "-advertise", "127.0.0.1"}, extra...)
	p := start(c.t, "agent "+name, bins.agent, args...)
	c.t.Cleanup(func() {
		// Stop every job so no task outlives the test (runs before the
		// agent is stopped: cleanups run last-in first-out).
		c.cli(c.cliEnv(true), "job", "stop", "-detach", "echo")
		killChildGroups(p.cmd.Process.Pid)
	})
	return p
}

// waitNodeReady waits until the named node is ready.
func (c *tlsCentral) waitNodeReady(name string, timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, func() error {
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		for _, n := range nodes {
			if n.Name == name && n.Status == "ready" {
				return nil
			}
		}
		return fmt.Errorf("node %s not ready: %+v", name, nodes)
	})
}

// waitAllocRunning waits until job has a running allocation.
func (c *tlsCentral) waitAllocRunning(job string, timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, func() error {
		var as []alloc
		if err := c.get("/v1/job/"+job+"/allocations", &as); err != nil {
			return err
		}
		for _, a := range as {
			if a.ClientStatus == "running" {
				return nil
			}
		}
		return fmt.Errorf("no running allocation of %s: %+v", job, as)
	})
}

// cliEnv is CENTRAL_ADDR (https) with the CA and, when withCert, the
// client certificate.
func (c *tlsCentral) cliEnv(withCert bool) []string {
	env := []string{"CENTRAL_ADDR=https://" + c.http, "CENTRAL_CACERT=" + c.files.ca}
	if withCert {
		env = append(env, "CENTRAL_CLIENT_CERT="+c.files.clientCert, "CENTRAL_CLIENT_KEY="+c.files.clientKey)
	}
	return env
}

// cli runs the central CLI with exactly the CENTRAL_* variables in env.
func (c *tlsCentral) cli(env []string, args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(bins.central, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CENTRAL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run central %v: %v", args, err)
	}
	return string(out), 0
}

// echoJob writes a service job whose exec task sleeps, and returns its path.
func echoJob(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echo.hcl")
	src := `job "echo" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do sleep 1; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
