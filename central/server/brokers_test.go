package server

import (
	"strings"
	"testing"
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
