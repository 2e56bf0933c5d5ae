package broker

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/protocol"
)

// rawConnect sends an MQTT 3.1.1 CONNECT with a Will over a bare TCP
// connection and returns the CONNACK's return code (0 accepted, 5 not
// authorised) and the open connection, which the caller drops without a
// DISCONNECT so that an accepted Will is published.
func rawConnect(t *testing.T, addr, user, pw, clientID, willTopic string, will []byte) (byte, net.Conn) {
	t.Helper()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: clientID,
			UsernameFlag: user != "", Username: []byte(user), PasswordFlag: pw != "", Password: []byte(pw),
			WillFlag: willTopic != "", WillTopic: willTopic, WillPayload: will, WillQos: 1,
		},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil {
		t.Fatalf("CONNACK for %s/%s: %v", user, clientID, err)
	}
	if ack[0] != 0x20 || ack[1] != 2 {
		t.Fatalf("not a CONNACK: % x", ack)
	}
	c.SetDeadline(time.Time{})
	return ack[3], c
}

// TestBrokerRefusesWillsOutsideACL replays the attack of a node whose
// Will is a message on another node's topics (a hello renaming it, an up,
// an ack, a made-up node's hello, a service): each CONNECT is refused and
// nothing reaches central when the connection drops. A Will on the node's
// own online topic still works.
func TestBrokerRefusesWillsOutsideACL(t *testing.T) {
	auth := &testAuthority{nodes: map[string]bool{"a": true, "b": true}}
	b, err := StartAuth("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), auth, protocol.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tp := protocol.Topics{}
	heard := make(chan [2]string, 64)
	central, err := connect(t, b.URL(), "central", "pw-central")
	if err != nil {
		t.Fatal(err)
	}
	central.Subscribe("#", 1, func(_ paho.Client, m paho.Message) { heard <- [2]string{m.Topic(), string(m.Payload())} }).Wait()

	hello, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: "b", Name: "renamed-by-a", Datacenter: "dc1"})
	for _, topic := range []string{
		tp.Hello("b"), tp.Up("b"), tp.Ack("b"), tp.Online("b"), tp.Heartbeat("b"), tp.Desired("b"),
		tp.Hello("made-up-node"), tp.Service("web"), tp.Desired("a"), tp.Ack("a"), "#", "tether/v1/node/+/hello",
	} {
		code, conn := rawConnect(t, b.Addr().String(), "a", "pw-a", "a", topic, hello)
		if code == 0 {
			t.Errorf("node a connected with a Will on %s", topic)
		}
		conn.Close()
	}
	// Central's own marker arrives, and nothing before it.
	central.Publish("marker", 1, false, []byte("m")).Wait()
	select {
	case m := <-heard:
		if m[0] != "marker" {
			t.Fatalf("central heard %s (%q): a Will outside node a's topics was published", m[0], m[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("central's marker never arrived")
	}
	if c := b.Counters(); c.RefusedWills != 12 || c.RefusedConnects != 12 {
		t.Fatalf("refused wills %d, connects %d; want 12 and 12", c.RefusedWills, c.RefusedConnects)
	}

	// The node's own Will is published when its connection drops.
	code, conn := rawConnect(t, b.Addr().String(), "a", "pw-a", "a", tp.Online("a"), []byte("offline"))
	if code != 0 {
		t.Fatalf("node a refused with a Will on its own online topic: code %d", code)
	}
	conn.Close()
	select {
	case m := <-heard:
		if m[0] != tp.Online("a") || m[1] != "offline" {
			t.Fatalf("central heard %s (%q), want node a's Will", m[0], m[1])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node a's own Will never arrived")
	}
}

// TestBrokerTiesClientIDsToLogins replays the takeover loop: node a's
// login with central's client ID (and with node b's) is refused every
// time, and neither central nor b is ever disconnected.
func TestBrokerTiesClientIDsToLogins(t *testing.T) {
	auth := &testAuthority{nodes: map[string]bool{"a": true, "b": true}}
	b, err := StartAuth("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), auth, protocol.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var lost atomic.Int32
	stay := func(user, id string) paho.Client {
		o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetUsername(user).SetPassword("pw-" + user).
			SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).
			SetConnectionLostHandler(func(paho.Client, error) { lost.Add(1) })
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s as %s: %v", user, id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(50) })
		return c
	}
	central := stay("central", "central")
	mirror := stay("central", "central-1") // central's client on a second broker
	nodeB := stay("b", "b")

	for i := 0; i < 20; i++ {
		for _, id := range []string{"central", "central-1", "b", "a-1", ""} {
			if _, err := connectID(t, b.URL(), "a", "pw-a", id); err == nil {
				t.Fatalf("node a connected with client ID %q", id)
			}
		}
	}
	if _, err := connectID(t, b.URL(), "b", "pw-b", "central"); err == nil {
		t.Fatal("node b connected with central's client ID")
	}
	if _, err := connectID(t, b.URL(), "central", "pw-central", "a"); err == nil {
		t.Fatal("central's login connected with node a's client ID")
	}
	if _, err := connect(t, b.URL(), "a", "pw-a"); err != nil {
		t.Fatalf("node a with its own client ID: %v", err)
	}
	if n := lost.Load(); n != 0 || !central.IsConnectionOpen() || !mirror.IsConnectionOpen() || !nodeB.IsConnectionOpen() {
		t.Fatalf("connections lost: %d (central %v, mirror %v, b %v)", n, central.IsConnectionOpen(), mirror.IsConnectionOpen(), nodeB.IsConnectionOpen())
	}
	// paho tries MQTT 3.1.1 and then 3.1: two CONNECTs per attempt.
	if c := b.Counters(); c.RefusedClientIDs != 2*(20*5+2) {
		t.Fatalf("refused client IDs = %d, want %d", c.RefusedClientIDs, 2*(20*5+2))
	}
}

func TestClientIDAllowed(t *testing.T) {
	for _, c := range []struct {
		user    string
		central bool
		id      string
		want    bool
	}{
		{"n1", false, "n1", true},
		{"n1", false, "n2", false},
		{"n1", false, "n1-x", false},
		{"n1", false, "tether-central", false},
		{"n1", false, "", false},
		{"tether-central", true, "tether-central", true},
		{"tether-central", true, "tether-central-dc2", true},
		{"tether-central", true, "tether-central-", false},
		{"tether-central", true, "n1", false},
		{"tether-central", true, "tether-centralx", false},
	} {
		if got := ClientIDAllowed(c.user, c.central, c.id); got != c.want {
			t.Errorf("ClientIDAllowed(%q, %v, %q) = %v, want %v", c.user, c.central, c.id, got, c.want)
		}
	}
}

// TestRevokedNodeSendsNoWill: a node cut off because its login was
// revoked (DisconnectUser) does not get its Will published, though the
// Will was its own topic when it connected.
func TestRevokedNodeSendsNoWill(t *testing.T) {
	auth := &testAuthority{nodes: map[string]bool{"a": true}}
	b, err := StartAuth("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), auth, protocol.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tp := protocol.Topics{}
	heard := make(chan string, 16)
	central, err := connect(t, b.URL(), "central", "pw-central")
	if err != nil {
		t.Fatal(err)
	}
	central.Subscribe("#", 1, func(_ paho.Client, m paho.Message) { heard <- m.Topic() }).Wait()
	code, conn := rawConnect(t, b.Addr().String(), "a", "pw-a", "a", tp.Online("a"), []byte("offline"))
	if code != 0 {
		t.Fatalf("node a refused: code %d", code)
	}
	auth.mu.Lock()
	delete(auth.nodes, "a")
	auth.mu.Unlock()
	b.DisconnectUser("a")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil { // until the broker closes it
		t.Fatalf("node a not disconnected: %v", err)
	}
	central.Publish("marker", 1, false, []byte("m")).Wait()
	select {
	case topic := <-heard:
		if topic != "marker" {
			t.Fatalf("central heard %s from a revoked node", topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("central's marker never arrived")
	}
}
