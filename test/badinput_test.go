package test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Bad input on the MQTT side (docs/fuzzing.md): oversized and garbage
// messages, and floods of hellos. Central must refuse each with a counted
// error, never crash, and keep answering its API.

// metricValue returns the value of the sample named series (name with its
// labels, as /v1/metrics prints it), or -1 when it is absent.
func metricValue(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// waitMetric polls /v1/metrics until series reaches at least min.
func (c *cluster) waitMetric(series string, min float64, timeout time.Duration) float64 {
	c.t.Helper()
	var v float64
	eventually(c.t, timeout, func() error {
		text, err := getText("http://" + c.http + "/v1/metrics")
		if err != nil {
			return err
		}
		if v = metricValue(text, series); v < min {
			return fmt.Errorf("%s = %v, want >= %v", series, v, min)
		}
		return nil
	})
	return v
}

// Raw MQTT 3.1.1 packets, so a test can send what no well-behaved client
// library would: a packet over the limit, a PUBLISH right behind a CONNECT
// the broker is about to refuse.

func mqttString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

func mqttPacket(header byte, body []byte) []byte {
	out := []byte{header}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// mqttConnect is a clean-session CONNECT; an empty user sends no login.
func mqttConnect(clientID, user, password string) []byte {
	flags := byte(0x02)
	payload := mqttString(clientID)
	if user != "" {
		flags |= 0xc0
		payload = append(append(payload, mqttString(user)...), mqttString(password)...)
	}
	body := append(mqttString("MQTT"), 4, flags, 0, 60)
	return mqttPacket(0x10, append(body, payload...))
}

// mqttPublish is a QoS 0 PUBLISH.
func mqttPublish(topic string, payload []byte) []byte {
	return mqttPacket(0x30, append(mqttString(topic), payload...))
}

// mqttPublishQoS1 is a QoS 1 PUBLISH with packet id id (1..65535), as
// agents send hellos: the broker delivers it to central at least once,
// where QoS 0 may be dropped under load.
func mqttPublishQoS1(topic string, id uint16, payload []byte) []byte {
	body := append(mqttString(topic), byte(id>>8), byte(id))
	return mqttPacket(0x32, append(body, payload...))
}

// rawSession connects, checks the CONNACK and returns the connection.
func rawSession(t *testing.T, addr, clientID string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(mqttConnect(clientID, "", "")); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x: %v", ack, err)
	}
	return conn
}

func helloBytes(t *testing.T, id, name string) []byte {
	t.Helper()
	b, err := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: id, Name: name, Datacenter: "dc1",
		Resources: protocol.Resources{CPU: 1000, MemoryMB: 512}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiWatch calls the API every 50 ms until stop and records the slowest
// answer and any failure.
type apiWatch struct {
	mu      sync.Mutex // guards slowest, errs
	slowest time.Duration
	errs    []error
	stop    chan struct{}
	done    chan struct{}
}

func watchAPI(c *cluster) *apiWatch {
	w := &apiWatch{stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			start := time.Now()
			resp, err := client.Get("http://" + c.http + "/v1/status/leader")
			d := time.Since(start)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
			w.mu.Lock()
			w.slowest = max(w.slowest, d)
			if err != nil {
				w.errs = append(w.errs, err)
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// finish stops the watch and fails the test if an API call failed or took
// a second or more.
func (w *apiWatch) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 || w.slowest >= time.Second {
		t.Fatalf("the API did not stay responsive: slowest answer %v, errors %v", w.slowest, w.errs)
	}
	t.Logf("slowest API answer during the flood: %v", w.slowest)
}

// TestOversizedAndGarbageMQTT: a 2 MiB PUBLISH on a node topic gets its
// client cut off by the embedded broker (counted), 100 KiB of garbage on a
// node topic is dropped by the gateway (counted), and central still
// registers a well-behaved node afterwards.
func TestOversizedAndGarbageMQTT(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	addr := strings.TrimPrefix(c.broker, "tcp://")
	tp := protocol.Topics{}

	big := rawSession(t, addr, "bad-big")
	huge := make([]byte, 2<<20)
	rand.Read(huge)
	big.Write(mqttPublish(tp.Hello("big"), huge)) // may fail half way: the broker hangs up
	// The broker closes the connection rather than read 2 MiB.
	big.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, big); err != nil && !isConnReset(err) {
		t.Fatalf("the broker kept the connection of a client that sent 2 MiB: %v", err)
	}
	c.waitMetric("tether_mqtt_broker_too_large_total", 1, 10*time.Second)

	// Garbage under the size limit reaches the gateway, which drops it.
	junk := rawSession(t, addr, "bad-junk")
	garbage := make([]byte, 100<<10)
	rand.Read(garbage)
	before := c.waitMetric(`tether_mqtt_dropped_total{reason="malformed"}`, 0, 10*time.Second)
	// Central subscribes hello and up at QoS 1; a QoS 0 publish to it is
	// still delivered at most once, so send a few.
	for i := 0; i < 3; i++ {
		if _, err := junk.Write(mqttPublish(tp.Up("junk"), garbage)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitMetric(`tether_mqtt_dropped_total{reason="malformed"}`, before+1, 10*time.Second)

	// Central keeps working: a proper hello registers a node.
	good := rawSession(t, addr, "good")
	if _, err := good.Write(mqttPublish(tp.Hello("good-1"), helloBytes(t, "good-1", "good"))); err != nil {
		t.Fatal(err)
	}
	c.waitNode("good", "ready", 10*time.Second)
}

func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// TestUnenrolledHelloFlood: with -mqtt-auth, 500 CONNECTs from clients that
// never enrolled (half anonymous, half with a made-up login), each followed
// at once by a hello, are all refused and counted; no node registers, and
// the API answers within a second throughout.
func TestUnenrolledHelloFlood(t *testing.T) {
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mq := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.broker = "tcp://" + mq
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-mqtt", mq, "-mqtt-auth"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()
	tp := protocol.Topics{}

	const attempts = 500
	w := watchAPI(c)
	accepted := 0
	for i := 0; i < attempts; i++ {
		id := fmt.Sprintf("intruder-%d", i)
		user, pw := "", ""
		if i%2 == 1 {
			user, pw = id, "guess"
		}
		conn, err := net.DialTimeout("tcp", mq, 5*time.Second)
		if err != nil {
			t.Fatalf("attempt %d: dial: %v", i, err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		var pkts bytes.Buffer
		pkts.Write(mqttConnect(id, user, pw))
		pkts.Write(mqttPublish(tp.Hello(id), helloBytes(t, id, id)))
		conn.Write(pkts.Bytes())
		ack := make([]byte, 4)
		if _, err := io.ReadFull(conn, ack); err == nil && ack[0] == 0x20 && ack[3] == 0 {
			accepted++
		}
		conn.Close()
	}
	w.finish(t)
	if accepted > 0 {
		t.Fatalf("the broker accepted %d of %d unenrolled CONNECTs", accepted, attempts)
	}
	c.waitMetric("tether_mqtt_broker_refused_connects_total", attempts, 10*time.Second)
	text, err := getText("http://" + c.http + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v := metricValue(text, "tether_agent_hellos_total"); v != 0 {
		t.Errorf("central received %v hellos from refused clients", v)
	}
	var nodes []node
	if err := c.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 0 {
		t.Errorf("refused clients registered %d nodes: %+v", len(nodes), nodes[:min(len(nodes), 3)])
	}
}

// TestOpenBrokerHelloFlood documents the limit of a broker without
// -mqtt-auth (docs/fuzzing.md, docs/security.md): anyone who can publish
// registers nodes. 1000 hellos with made-up node ids from one client each
// become a node; central stays responsive. It logs what they cost.
func TestOpenBrokerHelloFlood(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	addr := strings.TrimPrefix(c.broker, "tcp://")
	tp := protocol.Topics{}
	conn := rawSession(t, addr, "flooder")
	const n = 1000
	rss0, disk0 := procRSS(c.central.cmd.Process.Pid), dirSize(filepath.Join(c.dir, "central"))
	w := watchAPI(c)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("fake-%03d", i)
		conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(mqttPublishQoS1(tp.Hello(id), uint16(i+1), helloBytes(t, id, id))); err != nil {
			t.Fatal(err)
		}
	}
	// Each hello is registered through Raft in turn: at load 20 on two
	// cores 960 of them took 60 s (10 s on a quiet machine).
	c.waitMetric("tether_agent_hellos_total", n, 180*time.Second)
	w.finish(t)
	var nodes []node
	eventually(t, 120*time.Second, func() error {
		if err := c.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		if len(nodes) != n {
			return fmt.Errorf("%d nodes, want %d", len(nodes), n)
		}
		return nil
	})
	rss1, disk1 := procRSS(c.central.cmd.Process.Pid), dirSize(filepath.Join(c.dir, "central"))
	t.Logf("without -mqtt-auth, %d hellos with made-up ids registered %d nodes: central RSS %d -> %d KiB, data dir %d -> %d KiB",
		n, len(nodes), rss0>>10, rss1>>10, disk0>>10, disk1>>10)
}

// procRSS is a process's resident set in bytes (0 if unknown).
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// dirSize is the total size of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
