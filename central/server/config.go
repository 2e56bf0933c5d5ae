package server

import (
	"errors"
	"fmt"
	"time"
)

// Config configures one central server. It is validated once by New and
// not changed afterwards.
type Config struct {
	Name     string   // server name, unique in the cluster; default the hostname
	DataDir  string   // raft log, snapshots
	HTTPAddr string   // default 127.0.0.1:7600
	RaftAddr string   // default 127.0.0.1:7601
	MQTTAddr string   // embedded broker listener, used when Brokers is empty; default 127.0.0.1:1883
	Brokers  []string // external broker URLs; empty runs the embedded broker
	Region   string   // default "global"

	// BootstrapExpect is the number of servers expected before the cluster
	// bootstraps. Default 1 without Join (a single server), 0 with Join
	// (join an existing cluster only).
	BootstrapExpect int
	// Join lists other servers' HTTP addresses (config retry_join). A server
	// not yet in a cluster tries them every second until it is.
	Join []string
	ACL  bool
	// Sites adds one broker per datacenter, besides Brokers (or the
	// embedded broker): a node of datacenter Site.Name is reached through
	// that site's broker.
	Sites []Site
	// RaftMultiplier scales Raft's timeouts (1 = heartbeat and election
	// timeout 1s, leader lease 500ms; default 1). Raise it on slow links.
	RaftMultiplier int
	// RaftSnapshotThreshold, when set, snapshots the Raft log after this
	// many entries and keeps as many (default 8192 and 10240). Small values
	// make followers catch up by snapshot; tests use them.
	RaftSnapshotThreshold int

	TopicPrefix  string        // default protocol.DefaultPrefix
	HeartbeatTTL time.Duration // heartbeats are expected within this; default 15s
	// HeartbeatGrace is added to the TTL before a silent node is marked
	// disconnected or down; default 5s.
	HeartbeatGrace time.Duration
	// ServiceJSONMirror also publishes every service set as JSON, retained,
	// on <prefix>/svc-json/<name> (config key service_json_mirror).
	ServiceJSONMirror bool
	// MQTTAuth makes the embedded broker refuse anonymous clients and
	// enforce per-node topic ACLs, and central authenticate to its brokers
	// with the cluster's generated login (docs/security.md).
	MQTTAuth bool
	// DevMode shortens Raft timeouts for a fast single-server start.
	DevMode bool
}

// Site is one datacenter's MQTT broker.
type Site struct {
	Name     string // datacenter
	Broker   string // MQTT URL
	Username string
	Password string
}

var errNoDataDir = errors.New("server: data_dir is required (set -data-dir)")

func (c *Config) setDefaults() error {
	if c.DataDir == "" {
		return errNoDataDir
	}
	if c.Name == "" {
		c.Name = "central"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:7600"
	}
	if c.RaftAddr == "" {
		c.RaftAddr = "127.0.0.1:7601"
	}
	if c.MQTTAddr == "" && len(c.Brokers) == 0 {
		c.MQTTAddr = "127.0.0.1:1883"
	}
	if c.Region == "" {
		c.Region = "global"
	}
	if c.BootstrapExpect == 0 && len(c.Join) == 0 {
		c.BootstrapExpect = 1
	}
	if c.BootstrapExpect < 0 || c.BootstrapExpect > 7 {
		return fmt.Errorf("server: bootstrap_expect = %d: use 1, 3 or 5 (at most 7)", c.BootstrapExpect)
	}
	if c.BootstrapExpect > 1 && len(c.Join) == 0 {
		return fmt.Errorf("server: bootstrap_expect = %d needs the other servers' HTTP addresses: set retry_join (or -join)", c.BootstrapExpect)
	}
	if c.RaftMultiplier == 0 {
		c.RaftMultiplier = 1
	}
	if c.RaftMultiplier < 0 || c.RaftMultiplier > 10 {
		return fmt.Errorf("server: raft_multiplier = %d: use 1 to 10", c.RaftMultiplier)
	}
	seen := map[string]bool{}
	for _, st := range c.Sites {
		if st.Name == "" || st.Broker == "" {
			return fmt.Errorf("server: site %q: both the datacenter name and broker are required (site \"dc2\" { broker = \"tcp://...\" })", st.Name)
		}
		if seen[st.Name] {
			return fmt.Errorf("server: site %q is defined twice: keep one block per datacenter", st.Name)
		}
		seen[st.Name] = true
	}
	if c.HeartbeatTTL == 0 {
		c.HeartbeatTTL = 15 * time.Second
	}
	if c.HeartbeatGrace == 0 {
		c.HeartbeatGrace = 5 * time.Second
	}
	if c.HeartbeatGrace < 0 {
		c.HeartbeatGrace = 0 // explicitly none
	}
	if c.HeartbeatTTL < time.Second {
		return fmt.Errorf("server: heartbeat_ttl %v is too short: use at least 1s", c.HeartbeatTTL)
	}
	return nil
}
