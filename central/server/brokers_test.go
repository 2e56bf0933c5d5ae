package server

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-edge/tether/central/broker"
	"github.com/tether-edge/tether/central/state"
)

// TestConfigBrokerURLs: a broker is one URL or the comma-separated nodes
// of one clustered broker; anything the MQTT client cannot dial is refused
// when central starts, naming the URL and the form to use.
func TestConfigBrokerURLs(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{Brokers: []string{"tcp://127.0.0.1:1883"}}, ""},
		{Config{Brokers: []string{"tcp://127.0.0.1:4001,tcp://127.0.0.1:4002,tcp://127.0.0.1:4003"}}, ""},
		{Config{Brokers: []string{"127.0.0.1:1883"}}, "is not a URL"},
		{Config{Brokers: []string{"tcp://127.0.0.1:4001,nats://127.0.0.1:4222"}}, `scheme "nats" not supported`},
		{Config{Brokers: []string{","}}, "is empty"},
		{Config{MQTTAddr: "127.0.0.1:1883", Sites: []Site{{Name: "dc2", Broker: "tcp://a:1883,http://b"}}}, `site "dc2": broker "http://b"`},
	} {
		c.cfg.DataDir = t.TempDir()
		err := c.cfg.setDefaults()
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("brokers %q sites %+v: %v, want %q", c.cfg.Brokers, c.cfg.Sites, err, c.wantErr)
		}
	}
}

// TestCentralClientID: with a broker login, central's client ID is its
// username with a suffix only the password gives (a node cannot take over
// central's session on a broker that does not tie client IDs to logins,
// such as NATS), and one every broker that does tie them accepts.
func TestCentralClientID(t *testing.T) {
	id := centralClientID("tether-central", "pw1")
	if id == centralClientID("tether-central", "pw2") || id != centralClientID("tether-central", "pw1") {
		t.Fatalf("client ID %q is not derived from the password alone", id)
	}
	if !strings.HasPrefix(id, "tether-central-") || len(id) != len("tether-central-")+16 {
		t.Fatalf("client ID %q", id)
	}
	if !broker.ClientIDAllowed("tether-central", true, id) || !broker.ClientIDAllowed("tether-central", true, id+"-dc2") {
		t.Fatalf("the embedded broker refuses central's client ID %q", id)
	}
	if centralClientID("", "") != "" {
		t.Fatal("without a login, the gateway's default client ID is kept")
	}
}

// TestNATSExport: GET /v1/security/nats gives an enrolled node a bcrypt
// hash of the password it was handed, and refuses, naming it, a node
// enrolled before nodes had one.
func TestNATSExport(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	var jt JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt); code != http.StatusOK {
		t.Fatalf("create join token: %d", code)
	}
	var enr EnrollResponse
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: jt.Secret, Name: "pi"}, &enr); code != http.StatusOK {
		t.Fatalf("enrol: %d", code)
	}
	var na NATSAuth
	if code := httpJSON(t, "GET", base+"/v1/security/nats", nil, &na); code != http.StatusOK {
		t.Fatalf("export: %d", code)
	}
	m := regexp.MustCompile(`user: "` + enr.NodeID + `", password: "([^"]+)"`).FindStringSubmatch(na.Conf)
	if m == nil || bcrypt.CompareHashAndPassword([]byte(m[1]), []byte(enr.MQTTPassword)) != nil {
		t.Fatalf("no bcrypt hash of the node's password in:\n%s", na.Conf)
	}
	old := &state.NodeCredential{NodeID: "old-node", Username: "old-node", PasswordHash: "$7$101$c2FsdA==$aGFzaA==", Created: 1}
	if _, err := s.apply(&state.Command{Ops: []state.Op{{Security: &state.SecurityOp{Enroll: &state.Enroll{TokenHash: hashJoinToken(jt.Secret), Credential: old}}}}}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/v1/security/nats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "old-node") || !strings.Contains(string(body), "enrol them again") {
		t.Fatalf("export with a node enrolled before bcrypt hashes: %s %s", resp.Status, body)
	}
}
