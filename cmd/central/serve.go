package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hclsimple"

	"github.com/tether-edge/tether/central/cli"
	"github.com/tether-edge/tether/central/server"
)

// fileConfig is the server's config file (HCL); every key is also a flag.
type fileConfig struct {
	Name            string   `hcl:"name,optional"`
	DataDir         string   `hcl:"data_dir,optional"`
	HTTP            string   `hcl:"http,optional"`
	Raft            string   `hcl:"raft,optional"`
	MQTT            string   `hcl:"mqtt,optional"`
	Brokers         []string `hcl:"brokers,optional"`
	Region          string   `hcl:"region,optional"`
	BootstrapExpect int      `hcl:"bootstrap_expect,optional"`
	Join            []string `hcl:"join,optional"`
	ACL             bool     `hcl:"acl,optional"`
	MQTTAuth        bool     `hcl:"mqtt_auth,optional"`
	JoinSecret      string   `hcl:"join_secret,optional"` // servers' shared secret for raft join
	HeartbeatTTL    string   `hcl:"heartbeat_ttl,optional"`
	HeartbeatGrace  string   `hcl:"heartbeat_grace,optional"`
	TopicPrefix     string   `hcl:"topic_prefix,optional"`
	LogLevel        string   `hcl:"log_level,optional"`
	// ServiceJSONMirror also publishes services as JSON on <prefix>/svc-json/<name>.
	ServiceJSONMirror bool `hcl:"service_json_mirror,optional"`

	RaftMultiplier        int `hcl:"raft_multiplier,optional"`
	RaftSnapshotThreshold int `hcl:"raft_snapshot_threshold,optional"`
	// HTTPMaxConns bounds the HTTP API's concurrent connections.
	HTTPMaxConns int `hcl:"http_max_conns,optional"`

	// MQTTMaxConns bounds the embedded broker's open connections.
	MQTTMaxConns int `hcl:"mqtt_max_conns,optional"`
	// EnableDebug serves /debug/pprof/ (operator write with ACLs on;
	// loopback clients only with ACLs off), as Nomad's enable_debug.
	EnableDebug bool `hcl:"enable_debug,optional"`

	// Server is the HA block: server { bootstrap_expect = 3, retry_join = [...] }.
	Server *serverBlock `hcl:"server,block"`
	// Sites are per-datacenter brokers: site "dc2" { broker = "tcp://..." }.
	Sites []siteBlock `hcl:"site,block"`
	// TLS is tls { ca_file, cert_file, key_file, verify_client } (docs/tls.md).
	TLS *tlsBlock `hcl:"tls,block"`

	// Garbage collection keys (gcconfig.go).
	JobGCInterval        string `hcl:"job_gc_interval,optional"`
	JobGCThreshold       string `hcl:"job_gc_threshold,optional"`
	EvalGCThreshold      string `hcl:"eval_gc_threshold,optional"`
	BatchEvalGCThreshold string `hcl:"batch_eval_gc_threshold,optional"`
	NodeGCThreshold      string `hcl:"node_gc_threshold,optional"`
	JoinTokenGCThreshold string `hcl:"join_token_gc_threshold,optional"`
	ACLTokenGCThreshold  string `hcl:"acl_token_gc_threshold,optional"`
	JobTrackedVersions   int    `hcl:"job_tracked_versions,optional"`
}

// tlsBlock turns on TLS for the HTTP API and MQTT.
type tlsBlock struct {
	CAFile       string `hcl:"ca_file,optional"`
	CertFile     string `hcl:"cert_file,optional"`
	KeyFile      string `hcl:"key_file,optional"`
	VerifyClient bool   `hcl:"verify_client,optional"`
}

// serverBlock holds the clustering keys, as Nomad's server stanza does.
type serverBlock struct {
	BootstrapExpect int      `hcl:"bootstrap_expect,optional"`
	RetryJoin       []string `hcl:"retry_join,optional"`
	RaftMultiplier  int      `hcl:"raft_multiplier,optional"`

	// Garbage collection keys, where Nomad has them (gcconfig.go).
	JobGCInterval        string `hcl:"job_gc_interval,optional"`
	JobGCThreshold       string `hcl:"job_gc_threshold,optional"`
	EvalGCThreshold      string `hcl:"eval_gc_threshold,optional"`
	BatchEvalGCThreshold string `hcl:"batch_eval_gc_threshold,optional"`
	NodeGCThreshold      string `hcl:"node_gc_threshold,optional"`
	JoinTokenGCThreshold string `hcl:"join_token_gc_threshold,optional"`
	ACLTokenGCThreshold  string `hcl:"acl_token_gc_threshold,optional"`
	JobTrackedVersions   int    `hcl:"job_tracked_versions,optional"`
}

// siteBlock is one datacenter's broker.
type siteBlock struct {
	Name     string `hcl:"name,label"`
	Broker   string `hcl:"broker"`
	Username string `hcl:"username,optional"`
	Password string `hcl:"password,optional"`
}

// parseSiteFlag reads -site DC=URL.
func parseSiteFlag(v string) (server.Site, error) {
	dc, url, ok := strings.Cut(v, "=")
	if !ok || dc == "" || url == "" {
		return server.Site{}, fmt.Errorf("-site %q: use -site DATACENTER=BROKER_URL, e.g. -site dc2=tcp://10.0.2.1:1883", v)
	}
	return server.Site{Name: dc, Broker: url}, nil
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// serverFlags parses the flags shared by `server` and `dev` onto a config
// read from -config first: flags win over the file. extra registers a
// command's own flags (dev: -job, -agent), listed by -h with the others.
func serverFlags(name string, args []string, stderr io.Writer, dev bool, extra ...func(*flag.FlagSet)) (server.Config, string, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("central "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, f := range extra {
		f(fs)
	}
	var (
		cfgFile, logLevel, ttl, grace string
		fc                            fileConfig
		tlsFlags                      tlsBlock
		brokers, join, sites          listFlag
		raftMult, raftSnap            int
	)
	fs.StringVar(&cfgFile, "config", "", "HCL config file; flags override its keys")
	nameDefault := "central"
	if dev {
		nameDefault = "dev"
	}
	fs.StringVar(&fc.Name, "name", "", "server name, unique in the cluster (default: "+nameDefault+")")
	fs.StringVar(&fc.DataDir, "data-dir", "", "where Raft keeps its log and snapshots")
	fs.StringVar(&fc.HTTP, "http", "", "HTTP API address (default 127.0.0.1:7600)")
	fs.StringVar(&fc.MQTT, "mqtt", "", "embedded MQTT broker address (default 127.0.0.1:1883)")
	fs.StringVar(&logLevel, "log-level", "", "debug, info, warn or error (default info)")
	if !dev {
		fs.StringVar(&fc.Raft, "raft", "", "Raft address (default 127.0.0.1:7601)")
		fs.Var(&brokers, "broker", "external MQTT broker URL, repeatable (instead of the embedded broker)")
		fs.StringVar(&fc.Region, "region", "", "region (default global)")
		fs.IntVar(&fc.BootstrapExpect, "bootstrap-expect", 0, "servers expected before bootstrapping (default 1)")
		fs.Var(&join, "join", "another server's HTTP address, repeatable (retried until this server is in a cluster)")
		fs.Var(&join, "retry-join", "alias of -join")
		fs.Var(&sites, "site", "DATACENTER=BROKER_URL: that datacenter's agents are reached through that broker; repeatable")
		fs.IntVar(&raftMult, "raft-multiplier", 0, "scale Raft timeouts (1 = 1s heartbeat/election timeout; default 1)")
		fs.IntVar(&raftSnap, "raft-snapshot-threshold", 0, "snapshot the Raft log every N entries (default 8192)")
		fs.StringVar(&ttl, "heartbeat-ttl", "", "heartbeats are expected within this (default 15s)")
		fs.StringVar(&grace, "heartbeat-grace", "", "added to the TTL before a silent node is disconnected or down (default 5s; 0s for none)")
	}
	aclHelp := "enable ACLs (bootstrap required)"
	if dev {
		aclHelp = "enable ACLs (bootstrap required: central acl bootstrap) and -mqtt-auth: the local agent enrols with a join token"
	}
	fs.BoolVar(&fc.ACL, "acl", false, aclHelp)
	fs.StringVar(&fc.JoinSecret, "join-secret", "", "secret every server shares; required to join this server's cluster (config join_secret; env CENTRAL_JOIN_SECRET)")
	fs.BoolVar(&fc.EnableDebug, "enable-debug", false, "serve Go's profiles on /debug/pprof/ (operator write with -acl; loopback clients only without)")
	fs.BoolVar(&fc.MQTTAuth, "mqtt-auth", false, "embedded broker: refuse anonymous clients, enforce per-node topic ACLs; sign desired state (docs/security.md)")
	fs.StringVar(&tlsFlags.CAFile, "tls-ca-file", "", "PEM CA certificate: turns on TLS with -tls-cert-file/-tls-key-file (config tls { ca_file })")
	fs.StringVar(&tlsFlags.CertFile, "tls-cert-file", "", "this server's PEM certificate (`central tls cert create -server`)")
	fs.StringVar(&tlsFlags.KeyFile, "tls-key-file", "", "this server's PEM private key")
	fs.BoolVar(&tlsFlags.VerifyClient, "tls-verify-client", false, "require client certificates signed by the CA on the HTTP API and the embedded broker")
	fs.BoolVar(&fc.ServiceJSONMirror, "service-json-mirror", false, "also publish service instances as JSON, retained, on <prefix>/svc-json/<name>")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return server.Config{}, "", fs, err
		}
		return server.Config{}, "", fs, usageError{err}
	}
	if fs.NArg() > 0 {
		return server.Config{}, "", fs, usageError{fmt.Errorf("unexpected argument %q: central %s takes only flags (see -help)", fs.Arg(0), name)}
	}
	var file fileConfig
	if cfgFile != "" {
		if err := hclsimple.DecodeFile(cfgFile, nil, &file); err != nil {
			return server.Config{}, "", fs, fmt.Errorf("config file: %w", err)
		}
	}
	pick := func(flagVal, fileVal string) string {
		if flagVal != "" {
			return flagVal
		}
		return fileVal
	}
	cfg := server.Config{
		Name:            pick(fc.Name, file.Name),
		DataDir:         pick(fc.DataDir, file.DataDir),
		HTTPAddr:        pick(fc.HTTP, file.HTTP),
		RaftAddr:        pick(fc.Raft, file.Raft),
		MQTTAddr:        pick(fc.MQTT, file.MQTT),
		Region:          pick(fc.Region, file.Region),
		Brokers:         append(file.Brokers, brokers...),
		Join:            append(file.Join, join...),
		BootstrapExpect: max(fc.BootstrapExpect, file.BootstrapExpect),
		ACL:             fc.ACL || file.ACL,
		MQTTAuth:        fc.MQTTAuth || file.MQTTAuth,
		JoinSecret:      pick(pick(fc.JoinSecret, file.JoinSecret), os.Getenv("CENTRAL_JOIN_SECRET")),
		TopicPrefix:     file.TopicPrefix,

		ServiceJSONMirror: fc.ServiceJSONMirror || file.ServiceJSONMirror,
		MQTTMaxConns:      file.MQTTMaxConns,
		HTTPMaxConns:      file.HTTPMaxConns,
		EnableDebug:       fc.EnableDebug || file.EnableDebug,
	}
	if len(brokers) > 0 {
		cfg.Brokers = brokers
	}
	if sb := file.Server; sb != nil {
		cfg.BootstrapExpect = max(cfg.BootstrapExpect, sb.BootstrapExpect)
		cfg.Join = append(cfg.Join, sb.RetryJoin...)
		cfg.RaftMultiplier = sb.RaftMultiplier
	}
	if file.RaftMultiplier != 0 {
		cfg.RaftMultiplier = file.RaftMultiplier
	}
	if raftMult != 0 {
		cfg.RaftMultiplier = raftMult
	}
	cfg.RaftSnapshotThreshold = file.RaftSnapshotThreshold
	if raftSnap != 0 {
		cfg.RaftSnapshotThreshold = raftSnap
	}
	for _, sb := range file.Sites {
		cfg.Sites = append(cfg.Sites, server.Site{Name: sb.Name, Broker: sb.Broker, Username: sb.Username, Password: sb.Password})
	}
	for _, v := range sites {
		st, err := parseSiteFlag(v)
		if err != nil {
			return cfg, "", fs, usageError{err}
		}
		cfg.Sites = append(cfg.Sites, st)
	}
	ft := tlsBlock{}
	if file.TLS != nil {
		ft = *file.TLS
	}
	cfg.TLS = server.TLS{
		CAFile:       pick(tlsFlags.CAFile, ft.CAFile),
		CertFile:     pick(tlsFlags.CertFile, ft.CertFile),
		KeyFile:      pick(tlsFlags.KeyFile, ft.KeyFile),
		VerifyClient: tlsFlags.VerifyClient || ft.VerifyClient,
	}
	gcc, err := gcConfig(file.gcKeys(), file.Server.gcKeys())
	if err != nil {
		return cfg, "", fs, err
	}
	cfg.GC = gcc
	if t := pick(ttl, file.HeartbeatTTL); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			return cfg, "", fs, fmt.Errorf("heartbeat_ttl %q: %v (use a duration such as \"15s\")", t, err)
		}
		cfg.HeartbeatTTL = d
	}
	if g := pick(grace, file.HeartbeatGrace); g != "" {
		d, err := time.ParseDuration(g)
		if err != nil {
			return cfg, "", fs, fmt.Errorf("heartbeat_grace %q: %v (use a duration such as \"5s\")", g, err)
		}
		if d == 0 {
			d = -1 // explicitly none
		}
		cfg.HeartbeatGrace = d
	}
	return cfg, pick(logLevel, file.LogLevel), fs, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if level != "" {
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
		}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func runServer(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "members" { // `central server members` is a CLI verb
		return cli.Run(append([]string{"server"}, args...), stdout, stderr, os.Getenv)
	}
	cfg, level, _, err := serverFlags("server", args, stderr, false)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitCodeOf(err)
	}
	logger, err := newLogger(stderr, level)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	srv, err := server.New(cfg, logger, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "==> Tether central %s started\n    HTTP API: %s\n    MQTT:     %s\n", server.Version, srv.HTTPURL(), strings.Join(srv.BrokerURLs(), ", "))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	stop() // a second Ctrl-C (or SIGTERM) ends the process at once
	fmt.Fprintln(stdout, "==> Shutting down (Ctrl-C again to exit at once)")
	if err := srv.Close(); err != nil {
		fmt.Fprintln(stderr, "Error during shutdown:", err)
		return 1
	}
	return 0
}
