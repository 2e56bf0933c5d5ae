package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/tether-edge/tether/central/broker"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/gateway"
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
	// JoinSecret, when set, must accompany every POST
	// /v1/operator/raft/join (servers send it from their own config);
	// with ACLs on it is how servers join each other (docs/security.md).
	JoinSecret string
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
	// DeploymentHealthMargin is how long past a group's healthy_deadline
	// the deployment watcher waits for an agent's health report before it
	// fails the deployment itself (default 1m; tests shorten it).
	DeploymentHealthMargin time.Duration
	// ServiceJSONMirror also publishes every service set as JSON, retained,
	// on <prefix>/svc-json/<name> (config key service_json_mirror).
	ServiceJSONMirror bool
	// MQTTAuth makes the embedded broker refuse anonymous clients and
	// enforce per-node topic ACLs, and central authenticate to its brokers
	// with the cluster's generated login (docs/security.md).
	MQTTAuth bool
	// MQTTMaxConns bounds the embedded broker's open connections
	// (config mqtt_max_conns; default broker.DefaultMaxConnections): one
	// more is closed at once, so a flood of idle connections cannot take
	// every file descriptor from central.
	MQTTMaxConns int
	// DevMode shortens Raft timeouts for a fast single-server start.
	DevMode bool
	// EnableDebug serves Go's profiles on /debug/pprof/ (debug.go).
	EnableDebug bool
	// HTTPMaxConns bounds the HTTP listener's concurrent connections
	// (config http_max_conns; default api.DefaultMaxConns). At the limit a
	// new connection evicts the oldest idle one.
	HTTPMaxConns int
	// TLS secures the HTTP API, the embedded broker, calls between
	// servers and central's MQTT client. Zero: plain TCP, as before.
	TLS TLS
	// GC holds the state garbage collection's interval, thresholds and
	// job_tracked_versions (gc.go); zero values take the defaults.
	GC GCConfig
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
	if c.HTTPMaxConns < 0 {
		return fmt.Errorf("server: http_max_conns = %d: use a positive number, or leave it out for %d", c.HTTPMaxConns, api.DefaultMaxConns)
	}
	if c.MQTTMaxConns < 0 {
		return fmt.Errorf("server: mqtt_max_conns = %d: use a positive number, or leave it out for %d", c.MQTTMaxConns, broker.DefaultMaxConnections)
	}
	if c.RaftMultiplier == 0 {
		c.RaftMultiplier = 1
	}
	if c.RaftMultiplier < 0 || c.RaftMultiplier > 10 {
		return fmt.Errorf("server: raft_multiplier = %d: use 1 to 10", c.RaftMultiplier)
	}
	for _, b := range c.Brokers {
		if err := gateway.CheckURLs(b); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	seen := map[string]bool{}
	for _, st := range c.Sites {
		if st.Name == "" || st.Broker == "" {
			return fmt.Errorf("server: site %q: both the datacenter name and broker are required (site \"dc2\" { broker = \"tcp://...\" })", st.Name)
		}
		if err := gateway.CheckURLs(st.Broker); err != nil {
			return fmt.Errorf("server: site %q: %w", st.Name, err)
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
	return c.GC.setDefaults()
}

// TLS turns on TLS for the HTTP API, the embedded broker's listener, the
// calls servers make to each other and central's MQTT client (config block
// tls { ... }, docs/tls.md). Empty: everything stays plain.
type TLS struct {
	CAFile   string // PEM CA that signed every server, agent and CLI cert
	CertFile string // this server's PEM certificate (server and client auth)
	KeyFile  string // its PEM private key
	// VerifyClient requires a client certificate signed by CAFile on the
	// HTTP API and the embedded broker (tls.RequireAndVerifyClientCert).
	VerifyClient bool
}

// Enabled reports whether any TLS key is set.
func (t TLS) Enabled() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.VerifyClient
}

// tlsConfigs are the loaded TLS settings: server for the HTTP API and the
// embedded broker, client for calls to other servers and brokers.
type tlsConfigs struct {
	server, client *tls.Config
}

// load reads the files once, at start. It returns nil configs when TLS
// is off.
func (t TLS) load() (tlsConfigs, error) {
	if !t.Enabled() {
		return tlsConfigs{}, nil
	}
	if t.CertFile == "" || t.KeyFile == "" {
		return tlsConfigs{}, errors.New("server: tls needs cert_file and key_file (create them with `central tls cert create -server`)")
	}
	if t.VerifyClient && t.CAFile == "" {
		return tlsConfigs{}, errors.New("server: tls verify_client needs ca_file, the CA client certificates must be signed by")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return tlsConfigs{}, fmt.Errorf("server: tls cert_file %s / key_file %s: %w", t.CertFile, t.KeyFile, err)
	}
	var pool *x509.CertPool // nil: the system roots
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return tlsConfigs{}, fmt.Errorf("server: tls ca_file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return tlsConfigs{}, fmt.Errorf("server: tls ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	srv := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	if t.VerifyClient {
		srv.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if pool == nil {
		srv.ClientAuth = tls.NoClientCert
	}
	cli := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert}, // presented when a peer asks (verify_client)
	}
	return tlsConfigs{server: srv, client: cli}, nil
}
