package test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// The attacks of issue 22 items 3 and 4, against central's embedded broker
// and against a real Mosquitto that uses the files `central mqtt
// export-auth` wrote: node A's login sends, as its Will, a hello renaming
// node B, an up and an ack for B and a made-up node's hello; then it
// connects twenty times with central's client ID and with B's. Nothing of
// it may reach central or B, and neither may be disconnected.

// mqttConnectWill is an MQTT 3.1.1 CONNECT with a QoS 1 Will.
func mqttConnectWill(clientID, user, password, willTopic string, will []byte) []byte {
	flags := byte(0x02 | 0x04 | 1<<3 | 0xc0) // clean session, Will at QoS 1, username, password
	payload := append(mqttString(clientID), mqttString(willTopic)...)
	payload = append(payload, byte(len(will)>>8), byte(len(will)))
	payload = append(payload, will...)
	payload = append(append(payload, mqttString(user)...), mqttString(password)...)
	body := append(mqttString("MQTT"), 4, flags, 0, 60)
	return mqttPacket(0x10, append(body, payload...))
}

// connectAndDrop sends connect, reads the CONNACK's return code and drops
// the connection without DISCONNECT, so that a Will the broker accepted
// is published.
func connectAndDrop(t *testing.T, addr string, connect []byte) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		return 0xff // closed without a CONNACK
	}
	if ack[0] != 0x20 {
		t.Fatalf("not a CONNACK: % x", ack)
	}
	return ack[3]
}

// identityAttacks runs the attacks with node a's login against node b and
// central; c is connected to the broker at url and knows a and b.
func identityAttacks(t *testing.T, c *cluster, url string, a, b enrolment) {
	addr := url[len("tcp://"):]
	tp := protocol.Topics{}
	var bLost atomic.Int32
	forgedAcks := make(chan string, 16)
	o := paho.NewClientOptions().AddBroker(url).SetClientID(b.MQTTUsername).SetUsername(b.MQTTUsername).SetPassword(b.MQTTPassword).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(paho.Client, error) { bLost.Add(1) })
	nodeB := paho.NewClient(o)
	if tok := nodeB.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("node b: %v", tok.Error())
	}
	t.Cleanup(func() { nodeB.Disconnect(50) })
	nodeB.Subscribe(tp.Ack(b.NodeID), 1, func(_ paho.Client, m paho.Message) {
		var ack protocol.Ack
		if protocol.Decode(m.Payload(), &ack) == nil && ack.Seq == 1<<40 {
			forgedAcks <- m.Topic()
		}
	}).Wait()
	hello := func(id, name string) []byte {
		p, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: id, Name: name, Datacenter: "dc1",
			Drivers: []string{"exec"}, Resources: protocol.Resources{CPU: 1000, MemoryMB: 512}})
		return p
	}
	// B registers through its own login; central answers with its desired state.
	eventually(t, 30*time.Second, func() error {
		nodeB.Publish(tp.Hello(b.NodeID), 1, false, hello(b.NodeID, "node-b")).Wait()
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		for _, n := range nodes {
			if n.ID == b.NodeID && n.Name == "node-b" {
				return nil
			}
		}
		return fmt.Errorf("node b not registered: %+v", nodes)
	})
	connectsBefore := metricOf(t, c, "tether_mqtt_broker_connects_total")

	up, _ := protocol.Encode(&protocol.Update{V: protocol.Version, Allocs: []protocol.AllocUpdate{{
		Seq: 1 << 40, AllocID: "forged", ClientStatus: protocol.AllocRunning,
		Services: []protocol.ServiceReg{{Name: "web", Address: "203.0.113.9", Port: 80}}}}})
	ack, _ := protocol.Encode(&protocol.Ack{V: protocol.Version, Seq: 1 << 40})
	wills := []struct {
		topic   string
		payload []byte
	}{
		{tp.Hello(b.NodeID), hello(b.NodeID, "renamed-by-a")},
		{tp.Up(b.NodeID), up},
		{tp.Ack(b.NodeID), ack},
		{tp.Hello("made-up-node"), hello("made-up-node", "made-up")},
	}
	for _, w := range wills {
		code := connectAndDrop(t, addr, mqttConnectWill(a.MQTTUsername, a.MQTTUsername, a.MQTTPassword, w.topic, w.payload))
		t.Logf("node a's CONNECT with a Will on %s: return code %d", w.topic, code)
	}
	for i := 0; i < 20; i++ {
		for _, id := range []string{"tether-central", b.MQTTUsername} {
			connectAndDrop(t, addr, mqttConnect(id, a.MQTTUsername, a.MQTTPassword))
		}
	}
	// A's own hello after all that: once central shows it, central has
	// handled whatever the broker delivered before.
	ca, err := mqttClient(t, url, &a, nil)
	if err != nil {
		t.Fatalf("node a with its own login and client ID: %v", err)
	}
	eventually(t, 60*time.Second, func() error {
		ca.Publish(tp.Hello(a.NodeID), 1, false, hello(a.NodeID, "node-a-after")).Wait()
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil {
			return err
		}
		for _, n := range nodes {
			if n.ID == a.NodeID && n.Name == "node-a-after" {
				return nil
			}
		}
		return fmt.Errorf("central has not heard node a's own hello")
	})

	var nodes []node
	if err := c.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == b.NodeID && n.Name != "node-b" {
			t.Errorf("node b renamed to %q by node a's Will", n.Name)
		}
		if n.ID == "made-up-node" {
			t.Errorf("node a's Will registered a made-up node: %+v", n)
		}
	}
	select {
	case topic := <-forgedAcks:
		t.Errorf("node b received node a's forged ack on %s", topic)
	default:
	}
	if n := bLost.Load(); n != 0 || !nodeB.IsConnectionOpen() {
		t.Errorf("node b lost its connection %d times", n)
	}
	if after := metricOf(t, c, "tether_mqtt_broker_connects_total"); after != connectsBefore {
		t.Errorf("central connected %v times to its broker before the takeover loop, %v after: it was kicked off", connectsBefore, after)
	}
	if n := c.waitNode("node-b", "ready", 5*time.Second); n.ID != b.NodeID {
		t.Errorf("node b is %+v", n)
	}
}

func metricOf(t *testing.T, c *cluster, series string) float64 {
	t.Helper()
	text, err := getText("http://" + c.http + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	v := metricValue(text, series)
	if v < 0 {
		t.Fatalf("no %s in /v1/metrics", series)
	}
	return v
}

// enrolTwo creates a join token and enrols nodes a and b.
func enrolTwo(t *testing.T, c *cluster) (a, b enrolment) {
	t.Helper()
	out, code := c.cli("node", "join-token", "create")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	return enrolNode(t, c, m[1], "node-a"), enrolNode(t, c, m[1], "node-b")
}

func TestEmbeddedBrokerRefusesForeignWillsAndClientIDs(t *testing.T) {
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mq := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.broker = "tcp://" + mq
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-mqtt", mq, "-mqtt-auth"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()
	a, b := enrolTwo(t, c)
	identityAttacks(t, c, c.broker, a, b)
	if v := metricOf(t, c, "tether_mqtt_broker_refused_wills_total"); v != 4 {
		t.Errorf("refused Wills %v, want 4", v)
	}
	if v := metricOf(t, c, "tether_mqtt_broker_refused_client_ids_total"); v != 40 {
		t.Errorf("refused client IDs %v, want 40", v)
	}
}

// TestMosquittoRefusesForeignWillsAndClientIDs runs the attacks against
// Mosquitto configured as docs/security.md says: the exported files and
// use_username_as_clientid true.
func TestMosquittoRefusesForeignWillsAndClientIDs(t *testing.T) {
	bin := requireTool(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := t.TempDir()
	authDir := mosquittoDir(t, "tether-mqtt-identity-")
	pwFile, aclFile := filepath.Join(authDir, "password_file"), filepath.Join(authDir, "acl_file")
	os.WriteFile(pwFile, nil, 0o600)
	os.WriteFile(aclFile, nil, 0o600)
	chownMosquitto(t, authDir)
	port := freePort(t)
	conf := filepath.Join(authDir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\nacl_file %s\n"+
		"use_username_as_clientid true\npersistence false\nmax_packet_size 1048576\n", port, pwFile, aclFile)), 0o644)
	mq := start(t, "mosquitto", bin, "-c", conf)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))

	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}, broker: url}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-broker", url, "-mqtt-auth"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()
	a, b := enrolTwo(t, c)
	if out, code := c.cli("mqtt", "export-auth", "-dir", authDir); code != 0 {
		t.Fatalf("export-auth (exit %d): %s", code, out)
	}
	chownMosquitto(t, authDir)
	mq.cmd.Process.Signal(syscall.SIGHUP) // Mosquitto reloads password_file and acl_file
	c.waitMetric("tether_mqtt_broker_connects_total", 1, 30*time.Second)
	identityAttacks(t, c, url, a, b)
}
