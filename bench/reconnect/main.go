// Command reconnect measures a reconnect storm: N simulated agents
// (lightweight MQTT clients speaking the agent protocol, all in this
// process) run a job on a real central, lose contact at once until central
// marks them disconnected, then all reconnect together. It reports how long
// central takes until every node is ready and every allocation is running
// again.
//
//	go run ./bench/reconnect -central bin/central -agents 1000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
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

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	n := flag.Int("agents", 1000, "simulated agents")
	per := flag.Int("allocs", 3, "allocations per agent")
	flag.Parse()
	if err := run(*centralBin, *n, *per); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect bench:", err)
		os.Exit(1)
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// simAgent is one simulated agent: it registers, heartbeats, and reports
// every allocation it is given as running.
type simAgent struct {
	id     string
	broker string
	topics protocol.Topics
	c      paho.Client
	seq    atomic.Uint64
	mu     sync.Mutex
	allocs map[string]bool // alloc id → reported running
}

func (a *simAgent) connect() error {
	a.c = paho.NewClient(paho.NewClientOptions().AddBroker(a.broker).SetClientID("sim-" + a.id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(30 * time.Second))
	if tok := a.c.Connect(); !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		return fmt.Errorf("agent %s: connect: %v", a.id, tok.Error())
	}
	a.c.Subscribe(a.topics.Desired(a.id), 1, func(_ paho.Client, m paho.Message) {
		var d protocol.Desired
		if protocol.Decode(m.Payload(), &d) != nil {
			return
		}
		up := &protocol.Update{V: protocol.Version}
		a.mu.Lock()
		for _, da := range d.Allocs {
			if !a.allocs[da.ID] {
				a.allocs[da.ID] = true
				up.Allocs = append(up.Allocs, a.running(da.ID))
			}
		}
		a.mu.Unlock()
		if len(up.Allocs) > 0 {
			a.publish(a.topics.Up(a.id), 1, up)
		}
	})
	a.c.Subscribe(a.topics.Ack(a.id), 1, func(_ paho.Client, m paho.Message) {
		var ack protocol.Ack
		if protocol.Decode(m.Payload(), &ack) == nil && ack.Rehello {
			a.hello()
		}
	})
	a.hello()
	return nil
}

func (a *simAgent) running(id string) protocol.AllocUpdate {
	return protocol.AllocUpdate{Seq: a.seq.Add(1), AllocID: id, ClientStatus: protocol.AllocRunning, Time: time.Now().UnixMilli(),
		TaskStates: map[string]protocol.TaskState{"t": {State: protocol.TaskRunning}}}
}

func (a *simAgent) hello() {
	h := &protocol.Hello{V: protocol.Version, NodeID: a.id, Name: a.id, Datacenter: "dc1", Drivers: []string{"exec"},
		Attributes: map[string]string{"kernel.name": "linux", "cpu.arch": "arm"},
		Resources:  protocol.Resources{CPU: 4000, MemoryMB: 4096}, Boot: 1, Seq: a.seq.Load()}
	a.mu.Lock()
	for id := range a.allocs {
		h.Allocs = append(h.Allocs, a.running(id))
	}
	a.mu.Unlock()
	a.publish(a.topics.Hello(a.id), 1, h)
}

func (a *simAgent) heartbeat() {
	a.publish(a.topics.Heartbeat(a.id), 0, &protocol.Heartbeat{V: protocol.Version, Seq: a.seq.Load(), Time: time.Now().UnixMilli()})
}

func (a *simAgent) publish(topic string, qos byte, msg any) {
	b, _ := protocol.Encode(msg)
	a.c.Publish(topic, qos, false, b)
}

func run(centralBin string, n, per int) error {
	dir, err := os.MkdirTemp("", "tether-reconnect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	httpAddr, mqtt := freeAddr(), freeAddr()
	central := exec.Command(centralBin, "server", "-data-dir", filepath.Join(dir, "c"), "-http", httpAddr, "-mqtt", mqtt,
		"-raft", freeAddr(), "-heartbeat-ttl", "3s", "-heartbeat-grace", "1s", "-log-level", "warn")
	central.Stderr = os.Stderr
	if err := central.Start(); err != nil {
		return err
	}
	defer func() { central.Process.Signal(syscall.SIGTERM); central.Wait() }()
	api := "http://" + httpAddr
	if err := waitFor(30*time.Second, func() bool {
		var leader string
		return getJSON(api+"/v1/status/leader", &leader) == nil && leader != ""
	}); err != nil {
		return fmt.Errorf("central did not elect itself: %w", err)
	}

	agents := make([]*simAgent, n)
	for i := range agents {
		agents[i] = &simAgent{id: fmt.Sprintf("sim-%04d", i), broker: "tcp://" + mqtt, allocs: map[string]bool{}}
	}
	if err := connectAll(agents); err != nil {
		return err
	}
	stopBeats := beat(agents)
	if err := waitFor(60*time.Second, func() bool { return countNodes(api, "ready") == n }); err != nil {
		return fmt.Errorf("%d agents did not all register: %w", n, err)
	}
	job := fmt.Sprintf(`job "storm" {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    disconnect {
      lost_after = "1h"
      replace    = false
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}`, n*per)
	body, _ := json.Marshal(map[string]string{"hcl": job})
	resp, err := http.Post(api+"/v1/jobs", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	t0 := time.Now()
	if err := waitFor(120*time.Second, func() bool { return countAllocs(api, "running") == n*per }); err != nil {
		return fmt.Errorf("allocations did not all run: %w (running %d)", err, countAllocs(api, "running"))
	}
	fmt.Printf("| %d agents × %d allocs | placed and running | %.2f s |\n", n, per, time.Since(t0).Seconds())

	// Every agent loses its link at once.
	stopBeats()
	for _, a := range agents {
		a.c.Disconnect(0)
	}
	t1 := time.Now()
	if err := waitFor(120*time.Second, func() bool {
		return countNodes(api, "disconnected") == n && countAllocs(api, "unknown") == n*per
	}); err != nil {
		return fmt.Errorf("nodes did not all become disconnected with their allocs unknown: %w (unknown %d)", err, countAllocs(api, "unknown"))
	}
	fmt.Printf("| %d agents | all disconnected, allocs unknown (TTL+grace = 4 s) | %.2f s |\n", n, time.Since(t1).Seconds())

	// And all come back at once.
	t2 := time.Now()
	if err := connectAll(agents); err != nil {
		return err
	}
	stopBeats = beat(agents)
	defer stopBeats()
	if err := waitFor(120*time.Second, func() bool {
		return countNodes(api, "ready") == n && countAllocs(api, "running") == n*per
	}); err != nil {
		return fmt.Errorf("state was not reconciled: %w (ready %d, running %d)", err, countNodes(api, "ready"), countAllocs(api, "running"))
	}
	fmt.Printf("| %d agents × %d allocs | reconnect storm: every node ready, every alloc running | %.2f s |\n", n, per, time.Since(t2).Seconds())
	return nil
}

func connectAll(agents []*simAgent) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(agents))
	sem := make(chan struct{}, 64)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := a.connect(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// beat sends every agent's heartbeat each second from one goroutine.
func beat(agents []*simAgent) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
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

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func countNodes(api, status string) int {
	var nodes []struct {
		Status string `json:"status"`
	}
	getJSON(api+"/v1/nodes", &nodes)
	c := 0
	for _, x := range nodes {
		if x.Status == status {
			c++
		}
	}
	return c
}

func countAllocs(api, status string) int {
	var allocs []struct {
		ClientStatus string `json:"client_status"`
	}
	getJSON(api+"/v1/job/storm/allocations", &allocs)
	c := 0
	for _, x := range allocs {
		if x.ClientStatus == status {
			c++
		}
	}
	return c
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
