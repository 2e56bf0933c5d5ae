// Package sim is what the cluster benchmarks share: a real central process
// on loopback addresses, its HTTP API, and simulated agents (lightweight
// MQTT clients speaking the agent protocol, many in one process).
package sim

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// FreeAddr returns a loopback address with a port free a moment ago.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Central is one central server process.
type Central struct {
	Cmd  *exec.Cmd
	API  string // http://host:port
	MQTT string // tcp://host:port, its embedded broker
	dir  string
}

// StartCentral starts bin as a single server with its data in a new
// temporary folder, extra flags appended, and waits until it leads.
func StartCentral(bin string, extra ...string) (*Central, error) {
	dir, err := os.MkdirTemp("", "tether-bench-")
	if err != nil {
		return nil, err
	}
	httpAddr, mqtt := FreeAddr(), FreeAddr()
	args := append([]string{"server", "-data-dir", filepath.Join(dir, "c"), "-http", httpAddr, "-mqtt", mqtt,
		"-raft", FreeAddr(), "-log-level", "warn"}, extra...)
	c := &Central{Cmd: exec.Command(bin, args...), API: "http://" + httpAddr, MQTT: "tcp://" + mqtt, dir: dir}
	c.Cmd.Stderr = os.Stderr
	if err := c.Cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := WaitFor(30*time.Second, func() bool {
		var leader string
		return GetJSON(c.API+"/v1/status/leader", &leader) == nil && leader != ""
	}); err != nil {
		c.Stop()
		return nil, fmt.Errorf("central did not elect itself: %w", err)
	}
	return c, nil
}

// Stop ends the process and removes its data.
func (c *Central) Stop() {
	c.Cmd.Process.Signal(syscall.SIGTERM)
	c.Cmd.Wait()
	os.RemoveAll(c.dir)
}

// EnableSigning makes central sign every desired state, as it does once
// a node has enrolled: it creates a join token, enrols a node that never
// connects with it, and returns central's signing key.
func (c *Central) EnableSigning() (ed25519.PublicKey, error) {
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := PostJSON(c.API+"/v1/security/join-token?description=bench", nil, &tok); err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	var enr struct {
		SigningPublicKey []byte `json:"signing_public_key"`
	}
	if err := PostJSON(c.API+"/v1/enroll", map[string]string{"join_token": tok.Secret, "name": "bench-key"}, &enr); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if len(enr.SigningPublicKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("enrol: signing key of %d bytes, want an Ed25519 key", len(enr.SigningPublicKey))
	}
	return ed25519.PublicKey(enr.SigningPublicKey), nil
}

// PostJSON posts body as JSON and decodes the JSON answer into v (if
// not nil); an answer other than 200 is an error with its text.
func PostJSON(url string, body, v any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	if v == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// CountNodes is how many nodes central lists with status.
func (c *Central) CountNodes(status string) int {
	var nodes []struct {
		Status string `json:"status"`
	}
	GetJSON(c.API+"/v1/nodes", &nodes)
	n := 0
	for _, x := range nodes {
		if x.Status == status {
			n++
		}
	}
	return n
}

// JobAlloc is what the benchmarks read of an allocation.
type JobAlloc struct {
	ID           string `json:"id"`
	ClientStatus string `json:"client_status"`
	JobVersion   uint64 `json:"job_version"`
}

// JobAllocs lists job's allocations.
func (c *Central) JobAllocs(job string) []JobAlloc {
	var allocs []JobAlloc
	GetJSON(c.API+"/v1/job/"+job+"/allocations", &allocs)
	return allocs
}

// CountAllocs is how many of job's allocations have client status.
func (c *Central) CountAllocs(job, status string) int {
	n := 0
	for _, a := range c.JobAllocs(job) {
		if a.ClientStatus == status {
			n++
		}
	}
	return n
}

// GetJSON decodes the JSON answer of a GET.
func GetJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// WaitFor polls cond every 100 ms until it holds or timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// Agent is one simulated agent. It registers (its hello lists every alloc
// it holds, as a real agent's does), heartbeats when Beat says, and hands
// every desired state to OnDesired, which reports through Report.
type Agent struct {
	ID     string
	Broker string
	Topics protocol.Topics
	// Key, when set, is central's signing key: a desired state it did not
	// sign is dropped and counted in BadSig.
	Key ed25519.PublicKey
	// OnDesired is called with each desired state applied (never an older
	// one than the last), one at a time.
	OnDesired func(a *Agent, d *protocol.Desired)
	BadSig    atomic.Uint64
	// Hello's extras (bench/ota): the agent version, attributes added to
	// the defaults, and Reattached. Set before Connect.
	Version    string
	Attrs      map[string]string
	Reattached bool

	c      paho.Client
	seq    atomic.Uint64
	mu     sync.Mutex
	index  uint64                          // of the last desired state applied
	allocs map[string]protocol.AllocUpdate // alloc id → latest report
}

// Connect connects to the broker, subscribes and says hello.
func (a *Agent) Connect() error {
	a.mu.Lock()
	if a.allocs == nil {
		a.allocs = map[string]protocol.AllocUpdate{}
	}
	a.mu.Unlock()
	a.c = paho.NewClient(paho.NewClientOptions().AddBroker(a.Broker).SetClientID("sim-" + a.ID).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(30 * time.Second))
	if tok := a.c.Connect(); !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		return fmt.Errorf("agent %s: connect: %v", a.ID, tok.Error())
	}
	a.c.Subscribe(a.Topics.Desired(a.ID), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if protocol.Decode(m.Payload(), &d) != nil {
			return
		}
		if a.Key != nil && protocol.VerifyDesired(&d, a.Key) != nil {
			a.BadSig.Add(1)
			return
		}
		a.mu.Lock()
		old := d.Index < a.index
		if !old {
			a.index = d.Index
		}
		a.mu.Unlock()
		if !old && a.OnDesired != nil {
			a.OnDesired(a, &d)
		}
	})
	a.c.Subscribe(a.Topics.Ack(a.ID), 1, func(_ paho.Client, m paho.Message) {
		var ack protocol.Ack
		if protocol.Decode(m.Payload(), &ack) == nil && ack.Rehello {
			a.hello()
		}
	})
	a.hello()
	return nil
}

// Disconnect drops the connection at once.
func (a *Agent) Disconnect() { a.c.Disconnect(0) }

// Latest is the agent's latest report of alloc id, if it made one.
func (a *Agent) Latest(id string) (protocol.AllocUpdate, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.allocs[id]
	return u, ok
}

// Held is the agent's latest report of every alloc it holds.
func (a *Agent) Held() []protocol.AllocUpdate {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]protocol.AllocUpdate, 0, len(a.allocs))
	for _, u := range a.allocs {
		out = append(out, u)
	}
	return out
}

// Report records each update as its alloc's latest and sends them in one
// batch, each with the next sequence number.
func (a *Agent) Report(ups ...protocol.AllocUpdate) {
	if len(ups) == 0 {
		return
	}
	a.mu.Lock()
	for i := range ups {
		ups[i].Seq = a.seq.Add(1)
		a.allocs[ups[i].AllocID] = ups[i]
	}
	a.mu.Unlock()
	a.publish(a.Topics.Up(a.ID), 1, &protocol.Update{V: protocol.Version, Allocs: ups})
}

// Running is an update saying alloc id's one task "t" runs since at.
func Running(id string, at time.Time) protocol.AllocUpdate {
	return protocol.AllocUpdate{AllocID: id, ClientStatus: protocol.AllocRunning, Time: at.UnixMilli(),
		TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning, StartedAt: at.UnixMilli()}}}
}

func (a *Agent) hello() {
	h := &protocol.Hello{V: protocol.Version, NodeID: a.ID, Name: a.ID, Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"kernel.name": "linux", "cpu.arch": "arm"},
		Resources:  protocol.Resources{CPU: 4000, MemoryMB: 4096}, Boot: 1, Seq: a.seq.Load(),
		Version: a.Version, Reattached: a.Reattached}
	for k, v := range a.Attrs {
		h.Attributes[k] = v
	}
	a.mu.Lock()
	h.DesiredIndex = a.index
	for _, u := range a.allocs {
		h.Allocs = append(h.Allocs, u)
	}
	a.mu.Unlock()
	a.publish(a.Topics.Hello(a.ID), 1, h)
}

func (a *Agent) heartbeat() {
	a.publish(a.Topics.Heartbeat(a.ID), 0, &protocol.Heartbeat{V: protocol.Version, Seq: a.seq.Load(), Time: time.Now().UnixMilli()})
}

func (a *Agent) publish(topic string, qos byte, msg any) {
	b, _ := protocol.Encode(msg)
	a.c.Publish(topic, qos, false, b)
}

// ConnectAll connects every agent, 64 at a time.
func ConnectAll(agents []*Agent) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(agents))
	sem := make(chan struct{}, 64)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := a.Connect(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Beat sends every agent's heartbeat every interval from one goroutine
// until the returned function is called.
func Beat(agents []*Agent, every time.Duration) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, a := range agents {
					a.heartbeat()
				}
			}
		}
	}()
	return func() { close(stop) }
}
