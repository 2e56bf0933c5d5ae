package broker

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// A hash written by mosquitto_passwd 2.0.11 for the password "secret".
const mosquittoSecretHash = "$7$101$wFOCgm/MDsAieOLY$ONrzFusQHCn7vboWOifP8mXNkSlug0Xj2nxLwj6wsODyjWhcREfx0YQje8AOgAiIcJCc+oJOYEw+v1+3TvVxjQ=="

func TestPasswordHashMatchesMosquitto(t *testing.T) {
	if !CheckPassword(mosquittoSecretHash, "secret") || CheckPassword(mosquittoSecretHash, "Secret") {
		t.Fatal("CheckPassword disagrees with mosquitto_passwd")
	}
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "pw") || CheckPassword(h, "pw2") {
		t.Fatal("HashPassword round trip")
	}
	for _, bad := range []string{"", "$7$", "$6$101$a$b", "$7$x$a$b", "$7$101$!!$AAAA", "$7$99999999$AAAA$AAAA"} {
		if CheckPassword(bad, "") {
			t.Fatalf("malformed hash %q matched", bad)
		}
	}
}

func TestNodeRules(t *testing.T) {
	r := NodeRules{Topics: protocol.Topics{}, NodeID: "a"}
	cases := []struct {
		topic string
		write bool
		want  bool
	}{
		{"tether/v1/node/a/hello", true, true},
		{"tether/v1/node/a/hb", true, true},
		{"tether/v1/node/a/up", true, true},
		{"tether/v1/node/a/online", true, true},
		{"tether/v1/node/a/logs/r1", true, true},
		{"tether/v1/node/a/desired", true, false},
		{"tether/v1/node/b/hello", true, false},
		{"tether/v1/svc/web", true, false},
		{"tether/v1/node/a/desired", false, true},
		{"tether/v1/node/a/ack", false, true},
		{"tether/v1/node/a/logs", false, true},
		{"tether/v1/svc/web", false, true},
		{"tether/v1/svc/#", false, true},
		{"tether/v1/node/b/desired", false, false},
		{"tether/v1/node/+/desired", false, false},
		{"tether/v1/#", false, false},
		{"#", false, false},
	}
	for _, c := range cases {
		if got := r.Allows(c.topic, c.write); got != c.want {
			t.Errorf("Allows(%q, write=%v) = %v, want %v", c.topic, c.write, got, c.want)
		}
	}
}

// testAuthority knows central and nodes a and b; each password is the
// username reversed... kept simple: "pw-<user>".
type testAuthority struct {
	mu    sync.Mutex // guards nodes
	nodes map[string]bool
}

func (a *testAuthority) Login(u, p string) (bool, bool) {
	ok, central := a.Known(u)
	return ok && p == "pw-"+u, central
}

func (a *testAuthority) Known(u string) (bool, bool) {
	if u == "central" {
		return true, true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nodes[u], false
}

// connect logs in as user with the client ID brokers tie to that login
// (the username; "anon" for no login).
func connect(t *testing.T, url, user, pw string) (paho.Client, error) {
	t.Helper()
	id := user
	if id == "" {
		id = "anon"
	}
	return connectID(t, url, user, pw, id)
}

// connectID is connect with any client ID.
func connectID(t *testing.T, url, user, pw, clientID string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	if user != "" {
		o.SetUsername(user).SetPassword(pw)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		c.Disconnect(0)
		return nil, fmt.Errorf("no CONNACK from %s within 10s", url)
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

func TestBrokerEnforcesNodeACL(t *testing.T) {
	auth := &testAuthority{nodes: map[string]bool{"a": true, "b": true}}
	b, err := StartAuth("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), auth, protocol.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tp := protocol.Topics{}

	if _, err := connect(t, b.URL(), "", ""); err == nil {
		t.Fatal("anonymous client connected")
	}
	if _, err := connect(t, b.URL(), "a", "wrong"); err == nil {
		t.Fatal("client with a wrong password connected")
	}
	central, err := connect(t, b.URL(), "central", "pw-central")
	if err != nil {
		t.Fatal(err)
	}

	// Central hears a's hello but not the hello a publishes as b.
	heard := make(chan string, 16)
	central.Subscribe(tp.AllNodes(protocol.KindHello), 1, func(_ paho.Client, m paho.Message) { heard <- m.Topic() }).Wait()
	// The embedded broker (mochi) disconnects an MQTT 3.1.1 client whose
	// QoS 1 publish is denied; Mosquitto drops it silently.
	forger, err := connect(t, b.URL(), "a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	forger.Publish(tp.Hello("b"), 1, false, []byte("forged"))
	eventually(t, 5*time.Second, func() error {
		if forger.IsConnectionOpen() {
			return fmt.Errorf("forger still connected")
		}
		return nil
	})
	na, err := connect(t, b.URL(), "a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	na.Publish(tp.Hello("a"), 1, false, []byte("real")).Wait()
	select {
	case got := <-heard:
		if got != tp.Hello("a") {
			t.Fatalf("central heard %s first: node a published as node b", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("central never heard node a's own hello")
	}

	// a cannot read b's desired state, only its own.
	got := make(chan string, 16)
	na.Subscribe(tp.Desired("b"), 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() }).Wait()
	na.Subscribe(tp.Desired("a"), 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() }).Wait()
	central.Publish(tp.Desired("b"), 1, true, []byte("for b")).Wait()
	central.Publish(tp.Desired("a"), 1, true, []byte("for a")).Wait()
	select {
	case topic := <-got:
		if topic != tp.Desired("a") {
			t.Fatalf("node a read %s", topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("node a never got its own desired state")
	}

	// A revoked node loses its rights at once, even while connected.
	auth.mu.Lock()
	delete(auth.nodes, "a")
	auth.mu.Unlock()
	na.Publish(tp.Hello("a"), 1, false, []byte("after revoke")).Wait()
	central.Publish(tp.Hello("a"), 1, false, []byte("marker")).Wait()
	select {
	case <-heard:
	case <-time.After(5 * time.Second):
		t.Fatal("central's own marker never arrived")
	}
	select {
	case extra := <-heard:
		t.Fatalf("heard %s from a revoked node", extra)
	default:
	}
	if _, err := connect(t, b.URL(), "a", "pw-a"); err == nil {
		t.Fatal("revoked node reconnected")
	}
}

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not after %v: %v", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
