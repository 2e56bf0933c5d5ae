package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestServerConfigFileHABlocks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "central.hcl")
	os.WriteFile(file, []byte(`
name     = "c1"
data_dir = "/var/lib/tether"
brokers  = ["tcp://shared:1883"]
join     = ["10.0.0.9:7600"]

server {
  bootstrap_expect = 3
  retry_join       = ["10.0.0.2:7600", "10.0.0.3:7600"]
  raft_multiplier  = 2
}

site "dc2" {
  broker   = "tcp://dc2:1883"
  username = "central"
  password = "pw"
}

site "dc3" {
  broker = "tcp://dc3:1883"
}
`), 0o644)
	cfg, _, _, err := serverFlags("server", []string{"-config", file, "-site", "dc4=tcp://dc4:1883"}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BootstrapExpect != 3 || cfg.RaftMultiplier != 2 {
		t.Errorf("bootstrap_expect %d, raft_multiplier %d; want 3 and 2", cfg.BootstrapExpect, cfg.RaftMultiplier)
	}
	if want := []string{"10.0.0.9:7600", "10.0.0.2:7600", "10.0.0.3:7600"}; !slices.Equal(cfg.Join, want) {
		t.Errorf("join %v, want %v", cfg.Join, want)
	}
	if len(cfg.Sites) != 3 || cfg.Sites[0].Name != "dc2" || cfg.Sites[0].Username != "central" || cfg.Sites[0].Password != "pw" ||
		cfg.Sites[1].Broker != "tcp://dc3:1883" || cfg.Sites[2].Name != "dc4" || cfg.Sites[2].Broker != "tcp://dc4:1883" {
		t.Errorf("sites %+v", cfg.Sites)
	}
	if !slices.Equal(cfg.Brokers, []string{"tcp://shared:1883"}) {
		t.Errorf("brokers %v", cfg.Brokers)
	}
}

func TestServerSiteFlagNeedsDatacenterAndURL(t *testing.T) {
	for _, bad := range []string{"dc2", "=tcp://x:1883", "dc2="} {
		_, _, _, err := serverFlags("server", []string{"-site", bad}, io.Discard, false)
		if err == nil || !strings.Contains(err.Error(), "DATACENTER=BROKER_URL") {
			t.Errorf("-site %q: error %v, want one that shows the form", bad, err)
		}
	}
}

func TestServerConfigMQTTMaxConns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "central.hcl")
	os.WriteFile(file, []byte("data_dir = \"/tmp/x\"\nmqtt_max_conns = 5000\n"), 0o644)
	cfg, _, _, err := serverFlags("server", []string{"-config", file}, io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTTMaxConns != 5000 {
		t.Fatalf("mqtt_max_conns %d, want 5000", cfg.MQTTMaxConns)
	}
}
