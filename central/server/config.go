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

	BootstrapExpect int      // servers expected before bootstrapping; default 1
	Join            []string // other servers' HTTP addresses
	ACL             bool

	TopicPrefix  string        // default protocol.DefaultPrefix
	HeartbeatTTL time.Duration // heartbeats are expected within this; default 15s
	// HeartbeatGrace is added to the TTL before a silent node is marked
	// disconnected or down; default 5s.
	HeartbeatGrace time.Duration
	// ServiceJSONMirror also publishes every service set as JSON, retained,
	// on <prefix>/svc-json/<name> (config key service_json_mirror).
	ServiceJSONMirror bool
	// DevMode shortens Raft timeouts for a fast single-server start.
	DevMode bool
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
	if c.BootstrapExpect == 0 {
		c.BootstrapExpect = 1
	}
	if c.BootstrapExpect != 1 {
		return fmt.Errorf("server: bootstrap_expect = %d is not supported yet: run a single server (bootstrap_expect = 1)", c.BootstrapExpect)
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
