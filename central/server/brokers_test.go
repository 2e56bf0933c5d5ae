package server

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/broker"
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
