package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/protocol"
)

// mqttObserver keeps the last message seen on each topic.
type mqttObserver struct {
	mu   sync.Mutex
	last map[string][]byte
	seen [][2]string // every (topic, payload), in order
	cl   paho.Client
}

// observeMQTT connects a test client (clean session, no reconnect) and
// subscribes to filters at QoS 1.
func observeMQTT(t *testing.T, url, user, pw string, filters ...string) *mqttObserver {
	t.Helper()
	o := &mqttObserver{last: map[string][]byte{}}
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("observer-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pw).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			o.mu.Lock()
			defer o.mu.Unlock()
			o.last[m.Topic()] = append([]byte(nil), m.Payload()...)
			o.seen = append(o.seen, [2]string{m.Topic(), string(m.Payload())})
		})
	o.cl = paho.NewClient(opts)
	// Right after a node was killed, NATS answers a CONNECT only once the
	// JetStream streams it held the lead of have a new leader.
	eventually(t, 90*time.Second, func() error {
		tok := o.cl.Connect()
		if !tok.WaitTimeout(15 * time.Second) {
			return fmt.Errorf("observer: connect to %s: no answer", url)
		}
		return tok.Error()
	})
	t.Cleanup(func() { o.cl.Disconnect(50) })
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	// ... and refuses subscriptions until it has (as agents see too).
	eventually(t, 90*time.Second, func() error {
		tok := o.cl.SubscribeMultiple(subs, nil)
		if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			t.Fatalf("observer: subscribe on %s: %v", url, tok.Error())
		}
		for f, q := range tok.(*paho.SubscribeToken).Result() {
			if q == 0x80 {
				return fmt.Errorf("observer: %s refused the subscription to %s", url, f)
			}
		}
		return nil
	})
	return o
}

func (o *mqttObserver) get(topic string) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last[topic]
}

func (o *mqttObserver) saw(topic, payload string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.seen {
		if m[0] == topic && m[1] == payload {
			return true
		}
	}
	return false
}

// natsPlaceholderAuth lets nobody in until the first export: NATS allows
// anonymous clients when no user is configured.
const natsPlaceholderAuth = `authorization {
  users: [
    { user: "tether-placeholder", password: "not-a-bcrypt-hash-nobody-logs-in", allowed_connection_types: ["MQTT"],
      permissions: { publish: { deny: [">"] }, subscribe: { deny: [">"] } } }
  ]
}
`

const natsTestJob = `job %[1]q {
  datacenters = ["dc1"]
  type        = "system"
  group "g" {
    network {
      port "http" {}
    }
    service {
      name     = "%[1]s-web"
      port     = "http"
      provider = "nomad"
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 3600"]
      }
    }
  }
}
`

// TestNATSClusterBroker runs central and four real agents against a real
// three-node NATS cluster (MQTT listener, JetStream with three replicas),
// with the logins and permissions `central mqtt export-auth -format nats`
// wrote. It kills the node central uses (and the agents there) while jobs
// run: every one of them moves to another node within the keepalive window,
// a new job still reaches every agent, no task restarts. With central
// stopped it then kills the other node with the most agents: every retained
// desired state and service set is still served, byte for byte, by the node
// that was killed first and has come back. A node's login cannot publish or
// read another node's topics, nor use NATS's own protocol, nor take over
// central's session.
func TestNATSClusterBroker(t *testing.T) {
	nc := startNATSCluster(t, natsPlaceholderAuth)
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.broker = strings.Join(nc.URLs(0), ",") // one clustered broker, n1 first
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-broker", c.broker, "-mqtt-auth",
		// A NATS node's death stalls new sessions for 9-45 s (docs/nats.md):
		// the grace docs/nats.md advises, so that no node is marked down.
		"-heartbeat-ttl", "15s", "-heartbeat-grace", "60s"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()
	out, code := c.cli("node", "join-token", "create")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}

	// a0 and a1 list n1 first, a2 and a3 n2: n1 carries central and half
	// the agents.
	names := []string{"a0", "a1", "a2", "a3"}
	agentArgs := map[string][]string{}
	for i, name := range names {
		args := []string{"-join-token", m[1], "-central", "http://" + c.http}
		for _, u := range nc.URLs(i / 2) {
			args = append(args, "-broker", u)
		}
		agentArgs[name] = args
		c.startAgent(name, args...)
	}
	// Each agent enrols over HTTP and then waits for a login NATS knows:
	// export once all four are enrolled, and reload the nodes.
	eventually(t, 60*time.Second, func() error {
		var a struct {
			Conf string `json:"conf"`
		}
		if err := c.get("/v1/security/nats", &a); err != nil {
			return err
		}
		if n := strings.Count(a.Conf, "{ user: "); n != 1+len(names) {
			return fmt.Errorf("%d users exported, want central and %d nodes", n, len(names))
		}
		return nil
	})
	if out, code := c.cli("mqtt", "export-auth", "-format", "nats", "-dir", nc.dir); code != 0 || !strings.Contains(out, "include") {
		t.Fatalf("export-auth -format nats (exit %d): %s", code, out)
	}
	// The test's own observer reads everything (and writes nothing).
	conf, err := os.ReadFile(nc.authFile())
	if err != nil {
		t.Fatal(err)
	}
	obsHash, _ := broker.NATSHashPassword("observer-pw")
	nc.writeAuth(strings.Replace(string(conf), "  users: [\n", fmt.Sprintf(
		"  users: [\n    { user: \"observer\", password: %q, permissions: { publish: { deny: [\">\"] }, subscribe: { allow: [\">\"] } } }\n", obsHash), 1))
	nc.reload()

	ids := map[string]string{}
	for _, name := range names {
		ids[name] = c.waitNode(name, "ready", 90*time.Second).ID
	}
	job := func(name string) {
		t.Helper()
		if out, code := c.cli("job", "run", "-detach", lifeJob(t, name, fmt.Sprintf(natsTestJob, name))); code != 0 {
			t.Fatalf("job run %s (exit %d): %s", name, code, out)
		}
	}
	job("natsone")
	before := c.waitRunning("natsone", len(names), 120*time.Second)
	tp := protocol.Topics{}
	connects := func(p *proc) int { return strings.Count(p.out.String(), "connected to broker") }
	// Where every client is connected, by MQTT client ID (central's starts
	// with its username; an agent's is its node id).
	where := func() map[string]int {
		t.Helper()
		at := map[string]int{}
		eventually(t, 60*time.Second, func() error {
			clear(at)
			for i, n := range nc.nodes {
				if n.proc.exited() {
					continue
				}
				ids, err := nc.mqttClients(n)
				if err != nil {
					return err
				}
				for _, id := range ids {
					if strings.HasPrefix(id, "tether-central") {
						id = "central"
					}
					at[id] = i
				}
			}
			for _, name := range append([]string{"central"}, names...) {
				if _, ok := at[ids[name]]; !ok && name != "central" {
					return fmt.Errorf("agent %s is connected to no node", name)
				}
			}
			if _, ok := at["central"]; !ok && !c.central.exited() {
				return fmt.Errorf("central is connected to no node")
			}
			return nil
		})
		return at
	}
	ids["central"] = "central"
	procOf := func(name string) *proc {
		if name == "central" {
			return c.central
		}
		return c.agents[name]
	}
	// killNode kills node k and waits for every client that was on it to
	// connect to another node; it returns the slowest's time.
	killNode := func(k int, clients []string) time.Duration {
		t.Helper()
		was := map[string]int{}
		for _, name := range clients {
			was[name] = connects(procOf(name))
		}
		killed := time.Now()
		nc.nodes[k].proc.stop(syscall.SIGKILL)
		var slowest time.Duration
		for _, name := range clients {
			eventually(t, 110*time.Second, func() error { // within the agents' 120 s keepalive
				if connects(procOf(name)) <= was[name] {
					return fmt.Errorf("%s has not reconnected since %s was killed", name, nc.nodes[k].name)
				}
				return nil
			})
			took := time.Since(killed)
			t.Logf("%s connected to another node %.1fs after %s was killed", name, took.Seconds(), nc.nodes[k].name)
			slowest = max(slowest, took)
		}
		return slowest
	}
	on := func(at map[string]int, k int) []string {
		var out []string
		for _, name := range append([]string{"central"}, names...) {
			if i, ok := at[ids[name]]; ok && i == k {
				out = append(out, name)
			}
		}
		return out
	}

	// 1. Kill the node central uses, under load (heartbeats every second
	// from four agents): central and the agents there move to another node.
	at := where()
	k1 := at["central"]
	other := (k1 + 1) % 3
	obs := observeMQTT(t, nc.nodes[other].MQTT(), "observer", "observer-pw", tp.AllNodes(protocol.KindDesired), tp.AllServices(), tp.AllNodes(protocol.KindOnline))
	eventually(t, 60*time.Second, func() error {
		var set protocol.ServiceSet
		b := obs.get(tp.Service("natsone-web"))
		if err := protocol.Decode(b, &set); err != nil || len(set.Instances) != len(names) {
			return fmt.Errorf("service natsone-web seen through %s: %d instances (%v)", nc.nodes[other].name, len(set.Instances), err)
		}
		return nil
	})
	moving := on(at, k1)
	slowest := killNode(k1, moving)
	t.Logf("nats: %v reconnected within %.1fs of killing one of three nodes", moving, slowest.Seconds())
	// Desired state still reaches every agent: a new job runs everywhere,
	// and the first one's tasks never restarted.
	job("natstwo")
	c.waitRunning("natstwo", len(names), 120*time.Second)
	checkUntouched := func(when string) {
		t.Helper()
		now := c.waitRunning("natsone", len(names), 60*time.Second)
		ids := map[string]bool{}
		for _, a := range before {
			ids[a.ID] = true
		}
		for _, a := range now {
			if !ids[a.ID] {
				t.Fatalf("%s: natsone has a new allocation %s (was %+v)", when, a.ID, before)
			}
			for task, ts := range a.TaskStates {
				if ts.Restarts != 0 || ts.State != "running" {
					t.Fatalf("%s: task %s of %s is %s with %d restarts", when, task, a.ID, ts.State, ts.Restarts)
				}
			}
		}
		for _, name := range names {
			c.waitNode(name, "ready", 30*time.Second)
		}
	}
	checkUntouched("after the first node was killed")

	// 2. Bring that node back; stop central so that nothing republishes;
	// kill the other node with the most agents. The retained messages
	// must come from the JetStream replicas, the restarted node's caught
	// up from the others.
	nc.start(nc.nodes[k1])
	nc.waitHealthy(nc.nodes[k1], 90*time.Second)
	want := map[string][]byte{tp.Service("natsone-web"): nil, tp.Service("natstwo-web"): nil}
	for _, name := range names {
		want[tp.Desired(ids[name])] = nil
	}
	c.central.stop(syscall.SIGTERM)
	at = where()
	k2, keep := (k1+1)%3, (k1+2)%3
	if len(on(at, keep)) > len(on(at, k2)) {
		k2, keep = keep, k2
	}
	snap := observeMQTT(t, nc.nodes[keep].MQTT(), "observer", "observer-pw", tp.AllNodes(protocol.KindDesired), tp.AllServices())
	eventually(t, 30*time.Second, func() error {
		for topic := range want {
			if want[topic] = snap.get(topic); len(want[topic]) == 0 {
				return fmt.Errorf("nothing retained on %s yet", topic)
			}
		}
		return nil
	})
	moving = on(at, k2)
	slowest = killNode(k2, moving)
	t.Logf("nats: %v reconnected within %.1fs of killing the node they were on", moving, slowest.Seconds())
	back := observeMQTT(t, nc.nodes[k1].MQTT(), "observer", "observer-pw", tp.AllNodes(protocol.KindDesired), tp.AllServices())
	eventually(t, 30*time.Second, func() error {
		for topic, b := range want {
			if got := back.get(topic); !bytes.Equal(got, b) {
				return fmt.Errorf("%s (restarted) serves %d bytes retained on %s, want the %d bytes from before", nc.nodes[k1].name, len(got), topic, len(b))
			}
		}
		return nil
	})
	obs = observeMQTT(t, nc.nodes[keep].MQTT(), "observer", "observer-pw", tp.AllNodes(protocol.KindOnline))

	// 3. The Will: an agent that dies leaves "offline" retained on its
	// online topic; started again, it is online.
	a3 := c.agents["a3"]
	a3.stop(syscall.SIGKILL)
	onlineIs := func(want bool) func() error {
		return func() error {
			var o protocol.Online
			if err := protocol.Decode(obs.get(tp.Online(ids["a3"])), &o); err != nil || o.Online != want {
				return fmt.Errorf("a3's online marker: %+v %v, want online=%v", o, err, want)
			}
			return nil
		}
	}
	eventually(t, 30*time.Second, onlineIs(false))
	c.startAgent("a3", agentArgs["a3"]...)
	eventually(t, 60*time.Second, onlineIs(true))

	// Central comes back through a surviving node; nothing was replaced.
	c.central = start(t, "central (restarted)", bins.central, c.centralArgs...)
	c.waitLeader()
	checkUntouched("after n2 was killed and central restarted")

	// 4. A node's login: not on NATS's own protocol, not on another node's
	// topics.
	a0 := readEnrolment(t, c, "a0")
	if reply := natsConnect(t, nc.nodes[keep].client, a0.MQTTUsername, a0.MQTTPassword); !strings.Contains(reply, "-ERR") {
		t.Fatalf("a node's login was let in on NATS's client port: %q", reply)
	}
	spy := observeMQTT(t, nc.nodes[keep].MQTT(), "observer", "observer-pw", tp.Desired(ids["a1"]), tp.Hello(ids["a1"]))
	o := paho.NewClientOptions().AddBroker(nc.nodes[keep].MQTT()).SetClientID("forger").
		SetUsername(a0.MQTTUsername).SetPassword(a0.MQTTPassword).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
	forger := paho.NewClient(o)
	if tok := forger.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatalf("a0's login: %v", tok.Error())
	}
	defer forger.Disconnect(50)
	for _, filter := range []string{tp.Desired(ids["a1"]), tp.AllNodes(protocol.KindHello), "$MQTT/sub/#", "#"} {
		tok := forger.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
		if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
		if q := tok.(*paho.SubscribeToken).Result()[filter]; q != 0x80 {
			t.Fatalf("a0 may subscribe to %s (granted QoS %d)", filter, q)
		}
	}
	forged, _ := protocol.Encode(&protocol.Desired{V: protocol.Version, NodeID: ids["a1"], Index: 1 << 40})
	hijack, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: ids["a1"], Name: "hijacked", Datacenter: "dc1"})
	forger.Publish(tp.Desired(ids["a1"]), 1, false, forged).WaitTimeout(10 * time.Second)
	forger.Publish(tp.Hello(ids["a1"]), 1, false, hijack).WaitTimeout(10 * time.Second)
	// What a0 may publish does get through (so the forgeries above had
	// their chance): its own hello reaches the observer.
	own, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: ids["a0"], Name: "a0", Datacenter: "dc1"})
	ownSpy := observeMQTT(t, nc.nodes[keep].MQTT(), "observer", "observer-pw", tp.Hello(ids["a0"]))
	eventually(t, 30*time.Second, func() error {
		if forger.IsConnected() {
			forger.Publish(tp.Hello(ids["a0"]), 1, false, own).WaitTimeout(5 * time.Second)
		}
		if !ownSpy.saw(tp.Hello(ids["a0"]), string(own)) {
			return fmt.Errorf("a0's own hello has not arrived")
		}
		return nil
	})
	if spy.saw(tp.Desired(ids["a1"]), string(forged)) || spy.saw(tp.Hello(ids["a1"]), string(hijack)) {
		t.Fatal("a0's login published on a1's topics through NATS")
	}
	// NATS does not tie client IDs to logins: a0 connecting as
	// "tether-central" (central's client ID without a login) would take
	// over central's session. Central's ID has a suffix a node cannot
	// guess, so central stays connected and hears a0's next hello.
	lost := strings.Count(c.central.out.String(), "lost broker connection")
	for range 5 {
		o := paho.NewClientOptions().AddBroker(nc.nodes[keep].MQTT()).SetClientID("tether-central").
			SetUsername(a0.MQTTUsername).SetPassword(a0.MQTTPassword).SetAutoReconnect(false).SetConnectTimeout(10 * time.Second)
		thief := paho.NewClient(o)
		if tok := thief.Connect(); tok.WaitTimeout(15*time.Second) && tok.Error() == nil {
			thief.Disconnect(0)
		}
	}
	renamed, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: ids["a0"], Name: "a0-renamed", Datacenter: "dc1"})
	eventually(t, 60*time.Second, func() error {
		if forger.IsConnected() {
			forger.Publish(tp.Hello(ids["a0"]), 1, false, renamed).WaitTimeout(5 * time.Second)
		}
		return c.get("/v1/node/"+ids["a0"], &struct{}{})
	})
	c.waitNode("a0-renamed", "ready", 60*time.Second)
	if n := strings.Count(c.central.out.String(), "lost broker connection"); n != lost {
		t.Fatalf("central lost its broker connection %d times while a node's login used the client ID tether-central", n-lost)
	}
	if n := c.waitNode("a1", "ready", 10*time.Second); n.ID != ids["a1"] {
		t.Fatalf("a1 is %+v", n)
	}
}

func readEnrolment(t *testing.T, c *cluster, name string) enrolment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "agent-"+name, "enrolment.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e enrolment
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// natsConnect logs in on a NATS client port with NATS's own protocol and
// returns the server's answer to CONNECT and PING (+OK/PONG or -ERR).
func natsConnect(t *testing.T, port int, user, pw string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	connect, _ := json.Marshal(map[string]any{"user": user, "pass": pw, "verbose": false, "pedantic": false})
	fmt.Fprintf(conn, "CONNECT %s\r\nPING\r\n", connect)
	line, err := r.ReadString('\n')
	if err != nil {
		return "closed: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// TestServiceDiscoveryNATS runs the service discovery scenario (a consumer
// renders a producer's address from the retained service set, with a
// health check, and keeps rendering with central gone) on a NATS cluster
// without logins: central on one node, the agents on another, so every
// message crosses the cluster.
func TestServiceDiscoveryNATS(t *testing.T) {
	nc := startNATSCluster(t, "")
	c := startCentral(t, clusterOpts{broker: nc.nodes[0].MQTT()})
	c.broker = nc.nodes[1].MQTT() // where startAgent points the agents
	serviceDiscovery(t, c)
}
