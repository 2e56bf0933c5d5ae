package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

type enrolment struct {
	NodeID           string `json:"node_id"`
	MQTTUsername     string `json:"mqtt_username"`
	MQTTPassword     string `json:"mqtt_password"`
	SigningPublicKey []byte `json:"signing_public_key"`
}

func enrolNode(t *testing.T, c *cluster, token, name string) enrolment {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"join_token": token, "name": name})
	resp, err := http.Post("http://"+c.http+"/v1/enroll", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e enrolment
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&e) != nil {
		t.Fatalf("enrol %s: %s", name, resp.Status)
	}
	return e
}

func mqttClient(t *testing.T, url string, e *enrolment, onMsg func(topic string, payload []byte)) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("sec-%d", time.Now().UnixNano())).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if e != nil {
		// Brokers tie client IDs to logins: a node's is its username.
		o.SetUsername(e.MQTTUsername).SetPassword(e.MQTTPassword).SetClientID(e.MQTTUsername)
	}
	if onMsg != nil {
		o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { onMsg(m.Topic(), m.Payload()) })
	}
	cl := paho.NewClient(o)
	tok := cl.Connect()
	tok.WaitTimeout(5 * time.Second)
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { cl.Disconnect(50) })
	return cl, nil
}

// inbox collects what one client receives.
type inbox struct {
	ch chan [2]string
}

func (b inbox) add(topic string, payload []byte) { b.ch <- [2]string{topic, string(payload)} }

// TestMosquittoExportAuth runs central against a real Mosquitto that uses
// the files `central mqtt export-auth` wrote, and shows node A's login can
// neither publish as node B nor read B's desired state.
func TestMosquittoExportAuth(t *testing.T) {
	bin := requireTool(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := t.TempDir()
	authDir := mosquittoDir(t, "tether-mqtt-auth-")
	pwFile, aclFile := filepath.Join(authDir, "password_file"), filepath.Join(authDir, "acl_file")
	os.WriteFile(pwFile, nil, 0o600)
	os.WriteFile(aclFile, nil, 0o600)
	chownMosquitto(t, authDir)
	port := freePort(t)
	conf := filepath.Join(authDir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nuse_username_as_clientid true\npassword_file %s\nacl_file %s\npersistence false\nmax_packet_size 1048576\n",
		port, pwFile, aclFile)), 0o644)
	mq := start(t, "mosquitto", bin, "-c", conf)
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))

	// Central with -mqtt-auth logs in with its generated login, which
	// Mosquitto learns from the export below (central retries until then).
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}, broker: url}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-broker", url, "-mqtt-auth"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()

	out, code := c.cli("node", "join-token", "create")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	a, b := enrolNode(t, c, m[1], "node-a"), enrolNode(t, c, m[1], "node-b")
	if out, code := c.cli("mqtt", "export-auth", "-dir", authDir); code != 0 {
		t.Fatalf("export-auth (exit %d): %s", code, out)
	}
	chownMosquitto(t, authDir)
	mq.cmd.Process.Signal(syscall.SIGHUP) // Mosquitto reloads password_file and acl_file

	if _, err := mqttClient(t, url, nil, nil); err == nil {
		t.Fatal("Mosquitto let an anonymous client in")
	}
	var ca, cb paho.Client
	eventually(t, 10*time.Second, func() (err error) {
		ca, err = mqttClient(t, url, &a, nil)
		return err
	})
	tp := protocol.Topics{}
	bIn, aIn := inbox{make(chan [2]string, 64)}, inbox{make(chan [2]string, 64)}
	cb, err := mqttClient(t, url, &b, nil)
	if err != nil {
		t.Fatal(err)
	}
	cb.Subscribe(tp.Desired(b.NodeID), 1, func(_ paho.Client, m paho.Message) { bIn.add(m.Topic(), m.Payload()) }).Wait()
	ca.Subscribe(tp.Desired(b.NodeID), 1, func(_ paho.Client, m paho.Message) { aIn.add(m.Topic(), m.Payload()) }).Wait()
	ca.Subscribe(tp.Desired(a.NodeID), 1, func(_ paho.Client, m paho.Message) { aIn.add(m.Topic(), m.Payload()) }).Wait()

	// A forges desired state for B; Mosquitto drops it silently.
	forged, _ := protocol.Encode(&protocol.Desired{V: protocol.Version, NodeID: b.NodeID, Index: 1 << 40,
		Allocs: []protocol.DesiredAlloc{{ID: "forged", DesiredStatus: protocol.DesiredRun}}})
	ca.Publish(tp.Desired(b.NodeID), 1, false, forged).Wait()

	hello := func(cl paho.Client, e enrolment, name string) {
		p, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: e.NodeID, Name: name, Datacenter: "dc1",
			Drivers: []string{"exec"}, Resources: protocol.Resources{CPU: 1000, MemoryMB: 512}})
		cl.Publish(tp.Hello(e.NodeID), 1, false, p).Wait()
	}
	// B registers: central (logged in with the exported login) sends it
	// its signed desired state.
	// (Resent until central, which may still be logging in, hears it.)
	var msg [2]string
	deadline := time.After(30 * time.Second)
	for got := false; !got; {
		hello(cb, b, "node-b")
		select {
		case msg = <-bIn.ch:
			got = true
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatal("node B never received its desired state from central")
		}
	}
	{
		var d protocol.Desired
		if err := protocol.Decode([]byte(msg[1]), &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Allocs) != 0 || protocol.VerifyDesired(&d, b.SigningPublicKey) != nil {
			t.Fatalf("node B received a desired state central did not sign: %+v", d)
		}
	}
	// A registers after B: its own desired state arrives after B's, and
	// B's never reached A.
	hello(ca, a, "node-a")
	select {
	case msg := <-aIn.ch:
		if msg[0] != tp.Desired(a.NodeID) {
			t.Fatalf("node A read %s", msg[0])
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node A never received its own desired state")
	}
	for len(bIn.ch) > 0 {
		if msg := <-bIn.ch; msg[1] == string(forged) {
			t.Fatal("node B received the desired state node A forged")
		}
	}
	// A cannot pose as B towards central either: B's name stays.
	p, _ := protocol.Encode(&protocol.Hello{V: protocol.Version, NodeID: b.NodeID, Name: "hijacked", Datacenter: "dc1"})
	ca.Publish(tp.Hello(b.NodeID), 1, false, p).Wait()
	hello(ca, a, "node-a-again")
	c.waitNode("node-a-again", "ready", 10*time.Second)
	if n := c.waitNode("node-b", "ready", 5*time.Second); n.ID != b.NodeID {
		t.Fatalf("node B is %+v", n)
	}
}

// TestEnrolledAgentRunsJob runs the real agent binary against central with
// -mqtt-auth: it enrols with a join token, logs in to the authenticated
// embedded broker and runs a job from signed desired state.
func TestEnrolledAgentRunsJob(t *testing.T) {
	c, token := startAuthCentral(t)
	dir := c.dir
	c.startAgent("a", "-join-token", token, "-central", "http://"+c.http)
	n := c.waitNode("a", "ready", 20*time.Second)
	st, err := os.Stat(filepath.Join(dir, "agent-a", "enrolment.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("enrolment file: %v (want mode 0600)", err)
	}
	work := t.TempDir()
	if out, code := c.cli("job", "submit", writerJob(t, work, 1)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	readPid(t, filepath.Join(work, "pid-0"))
	if as := c.allocs("writer"); len(as) != 1 || as[0].NodeID != n.ID {
		t.Fatalf("allocs %+v, want one on the enrolled node %s", as, n.ID)
	}
}

// TestRaftJoinNeedsSecretWithACLs: three servers with ACLs on form a
// cluster through the shared join secret; a join request without it (or a
// token with operator write) is refused with a 403.
func TestRaftJoinNeedsSecretWithACLs(t *testing.T) {
	const joinSecret = "join-secret-for-this-test"
	h := startHA(t, 3, func(int) []string { return []string{"-acl", "-join-secret", joinSecret} })
	leader := h.waitLeader(30 * time.Second)
	out, code := h.cli(leader, "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	token := secretID(t, out)

	post := func(secret, tok string) (int, string) {
		info := map[string]string{"id": h.servers[0].name, "raft_addr": h.servers[0].raft, "http_addr": h.servers[0].http}
		b, _ := json.Marshal(info)
		req, _ := http.NewRequest(http.MethodPost, "http://"+leader.http+"/v1/operator/raft/join", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Tether-Join-Secret", secret)
		}
		if tok != "" {
			req.Header.Set("X-Tether-Token", tok)
		}
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Every server joined through the secret.
	eventually(t, 20*time.Second, func() error {
		req, _ := http.NewRequest(http.MethodGet, "http://"+leader.http+"/v1/operator/raft/configuration", nil)
		req.Header.Set("X-Tether-Token", token)
		resp, err := h.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var rc struct {
			Servers []struct {
				ID string `json:"id"`
			} `json:"servers"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&rc); err != nil || len(rc.Servers) != 3 {
			return fmt.Errorf("raft configuration: %v, %d servers", err, len(rc.Servers))
		}
		return nil
	})
	for _, tc := range []struct {
		name, secret, token string
		want                int
	}{
		{"no credentials", "", "", http.StatusForbidden},
		{"wrong join secret", "guess", "", http.StatusForbidden},
		{"unknown token", "", "not-a-token", http.StatusForbidden},
		{"join secret", joinSecret, "", http.StatusOK},
		{"management token", "", token, http.StatusOK},
	} {
		if code, body := post(tc.secret, tc.token); code != tc.want {
			t.Errorf("join with %s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
}

// startAuthCentral starts central with -mqtt-auth (an anonymous MQTT client
// is refused) and returns it with a new join token.
func startAuthCentral(t *testing.T) (*cluster, string) {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mq := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.broker = "tcp://" + mq
	c.centralArgs = []string{"server", "-data-dir", filepath.Join(dir, "central"), "-http", c.http,
		"-raft", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-mqtt", mq, "-mqtt-auth"}
	c.central = start(t, "central", bins.central, c.centralArgs...)
	c.waitLeader()
	if _, err := mqttClient(t, c.broker, nil, nil); err == nil {
		t.Fatal("the embedded broker let an anonymous client in")
	}
	out, code := c.cli("node", "join-token", "create")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	return c, m[1]
}
