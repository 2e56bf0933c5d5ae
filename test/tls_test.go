package test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTLSEmbeddedBroker: central with a tls block serves its API over
// HTTPS and its embedded broker over TLS; an agent on ssl:// runs a job;
// the CLI works with CENTRAL_CACERT and says what to set without it.
func TestTLSEmbeddedBroker(t *testing.T) {
	f := makeTLSFiles(t, t.TempDir())
	c := startTLSCentral(t, f, "")
	c.startAgent("tls-a", f.agentArgs(false)...)
	c.waitNodeReady("tls-a", 15*time.Second)

	if out, code := c.cli(c.cliEnv(false), "job", "submit", echoJob(t)); code != 0 {
		t.Fatalf("job submit over https exited %d:\n%s", code, out)
	}
	c.waitAllocRunning("echo", 15*time.Second)
	if out, code := c.cli(c.cliEnv(false), "job", "status", "echo"); code != 0 || !strings.Contains(out, "running") {
		t.Fatalf("job status over https exited %d:\n%s", code, out)
	}

	// Without the CA the CLI fails and names the fix.
	out, code := c.cli([]string{"CENTRAL_ADDR=https://" + c.http}, "node", "status")
	if code == 0 || !strings.Contains(out, "CENTRAL_CACERT") {
		t.Fatalf("CLI without the CA exited %d, want an error naming CENTRAL_CACERT:\n%s", code, out)
	}
	// Plain HTTP to the TLS port is refused.
	out, code = c.cli([]string{"CENTRAL_ADDR=http://" + c.http}, "node", "status")
	if code == 0 || !strings.Contains(out, "HTTPS") {
		t.Fatalf("CLI over plain http exited %d, want a refusal:\n%s", code, out)
	}
	resp, err := http.Get("http://" + c.http + "/v1/nodes")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain GET on the TLS port: %s, want 400", resp.Status)
		}
	}
	// Plain MQTT to the TLS broker gets no CONNACK.
	if b := mqttConnectPlain(t, strings.TrimPrefix(c.broker, "ssl://")); b != nil {
		t.Fatalf("plain MQTT CONNECT to the TLS broker was answered: % x", b)
	}
}

// TestTLSVerifyClient: with verify_client the API and the broker need a
// client certificate signed by the CA.
func TestTLSVerifyClient(t *testing.T) {
	f := makeTLSFiles(t, t.TempDir())
	c := startTLSCentral(t, f, "", "-tls-verify-client")
	c.startAgent("tls-b", f.agentArgs(true)...)
	c.waitNodeReady("tls-b", 15*time.Second)

	out, code := c.cli(c.cliEnv(false), "node", "status")
	if code == 0 || !strings.Contains(out, "CENTRAL_CLIENT_CERT") {
		t.Fatalf("CLI without a client certificate exited %d, want an error naming CENTRAL_CLIENT_CERT:\n%s", code, out)
	}
	out, code = c.cli(c.cliEnv(true), "node", "status")
	if code != 0 || !strings.Contains(out, "tls-b") {
		t.Fatalf("CLI with the client certificate exited %d:\n%s", code, out)
	}
	if out, code := c.cli(c.cliEnv(true), "job", "submit", echoJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	c.waitAllocRunning("echo", 15*time.Second)

	// An agent without a client certificate cannot log in to the broker.
	p := c.startAgent("tls-nocert", f.agentArgs(false)...)
	eventually(t, 10*time.Second, func() error {
		if s := p.out.String(); !strings.Contains(s, "certificate") {
			return fmt.Errorf("no certificate error logged yet")
		}
		return nil
	})
	var nodes []node
	if err := c.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Name == "tls-nocert" {
			t.Fatalf("an agent without a client certificate registered: %+v", n)
		}
	}
}

// TestTLSMosquitto: a real Mosquitto with a TLS listener that requires
// client certificates; central and an agent connect over ssl:// and a job runs.
func TestTLSMosquitto(t *testing.T) {
	bin := requireTool(t, "mosquitto", "/usr/sbin/mosquitto")
	// Mosquitto drops to user mosquitto: it needs a directory it can
	// traverse (t.TempDir's parents are 0700) and its key.
	dir := mosquittoDir(t, "tether-tls-mosquitto-")
	f := makeTLSFiles(t, dir)
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
allow_anonymous true
persistence false
max_packet_size 1048576
`, port, f.ca, f.serverCert, f.serverKey)), 0o644)
	chownMosquitto(t, dir)
	start(t, "mosquitto (tls)", bin, "-c", conf)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))

	c := startTLSCentral(t, f, fmt.Sprintf("ssl://127.0.0.1:%d", port))
	c.startAgent("tls-m", f.agentArgs(true)...)
	c.waitNodeReady("tls-m", 20*time.Second)
	if out, code := c.cli(c.cliEnv(false), "job", "submit", echoJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	c.waitAllocRunning("echo", 15*time.Second)
}

// mqttConnectPlain sends a plain MQTT 3.1.1 CONNECT to addr and returns
// whatever comes back within 2s (nil: nothing, or the connection closed).
func mqttConnectPlain(t *testing.T, addr string) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// CONNECT, protocol "MQTT" level 4, clean session, keepalive 30, client id "x".
	conn.Write([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 1, 'x'})
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 4)
	n, _ := conn.Read(b)
	if n >= 2 && b[0] == 0x20 { // CONNACK
		return b[:n]
	}
	return nil
}

// TestTLSEnrolMQTTAuth: with TLS, verify_client and -mqtt-auth an agent
// enrols at https://central with a join token, logs in to the TLS broker
// with its issued login and runs a job.
func TestTLSEnrolMQTTAuth(t *testing.T) {
	f := makeTLSFiles(t, t.TempDir())
	c := startTLSCentral(t, f, "", "-tls-verify-client", "-mqtt-auth")
	out, code := c.cli(c.cliEnv(true), "node", "join-token", "create")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	c.startAgent("tls-e", append(f.agentArgs(true), "-join-token", m[1], "-central", "https://"+c.http)...)
	c.waitNodeReady("tls-e", 20*time.Second)
	if out, code := c.cli(c.cliEnv(true), "job", "submit", echoJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	c.waitAllocRunning("echo", 15*time.Second)
}
