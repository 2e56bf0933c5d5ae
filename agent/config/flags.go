package config

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// Flags holds the agent's command-line flags registered on a FlagSet.
type Flags struct {
	fs         *flag.FlagSet
	configFile string
	name       string
	datacenter string
	brokers    listFlag
	dataDir    string
	joinToken  string
	tokenFile  string
	filePaths  listFlag
	allowNets  listFlag
	central    string
	advertise  string
	prefix     string
	heartbeat  time.Duration
	meta       listFlag
	logLevel   string
	tls        TLS
	gcInterval time.Duration
	gcMax      int
	gcDisk     float64
	registry   string
	reserved   Reserved
}

// RegisterFlags registers every agent flag on fs.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	d := Default()
	f := &Flags{fs: fs}
	fs.StringVar(&f.configFile, "config", "", "agent config `file` (HCL); flags override it")
	fs.StringVar(&f.name, "name", d.Name, "node name")
	fs.StringVar(&f.datacenter, "datacenter", d.Datacenter, "datacenter of this node")
	fs.Var(&f.brokers, "broker", "MQTT broker `URL` (repeatable; default "+DefaultBroker+")")
	fs.StringVar(&f.dataDir, "data-dir", d.DataDir, "`dir` for the state file and alloc dirs")
	fs.StringVar(&f.joinToken, "join-token", "", "join token to enrol at central with (see -central); visible to every user in ps: prefer -join-token-file or $"+EnvJoinToken)
	fs.StringVar(&f.tokenFile, "join-token-file", "", "`file` holding the join token (mode 0600)")
	fs.Var(&f.filePaths, "artifact-file-path", "`dir` that file:// artifact sources may be read from (repeatable; default none)")
	fs.Var(&f.allowNets, "artifact-allow-network", "loopback or link-local `CIDR` that artifact downloads may reach (repeatable; default none)")
	fs.StringVar(&f.central, "central", "", "central's HTTP API `URL` to enrol at with -join-token")
	fs.StringVar(&f.advertise, "advertise", "", "IP address given for this node's task ports and services (default: first non-loopback IPv4)")
	fs.StringVar(&f.prefix, "topic-prefix", d.TopicPrefix, "MQTT topic prefix")
	fs.DurationVar(&f.heartbeat, "heartbeat", d.Heartbeat, "heartbeat interval")
	fs.Var(&f.meta, "meta", "node meta `key=value` (repeatable)")
	fs.StringVar(&f.logLevel, "log-level", d.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&f.tls.CAFile, "tls-ca-file", "", "PEM CA `file` trusted for ssl:// brokers and an https:// central (default: system roots)")
	fs.StringVar(&f.tls.CertFile, "tls-cert-file", "", "PEM client certificate `file` for TLS brokers and central")
	fs.StringVar(&f.tls.KeyFile, "tls-key-file", "", "PEM private key `file` of -tls-cert-file")
	fs.DurationVar(&f.gcInterval, "gc-interval", d.GCInterval, "how often finished allocations' directories are checked for removal, and how long one central no longer lists is kept")
	fs.IntVar(&f.gcMax, "gc-max-allocs", d.GCMaxAllocs, "allocations held (running and finished) above which the oldest finished ones' directories are removed")
	fs.Float64Var(&f.gcDisk, "gc-disk-usage-threshold", d.GCDiskUsageThreshold, "percentage of the data dir's filesystem in use above which finished allocations' directories are removed, oldest first (100: off)")
	fs.StringVar(&f.registry, "podman-default-registry", d.Podman.DefaultRegistry, "`registry` of a Podman image named without one (redis:7 runs docker.io/library/redis:7); none: Podman's own short-name rules")
	fs.IntVar(&f.reserved.CPU, "reserved-cpu", 0, "CPU `MHz` kept for the host and the agent: the scheduler places less (reserved { cpu })")
	fs.IntVar(&f.reserved.MemoryMB, "reserved-memory", 0, "memory `MB` kept for the host and the agent (reserved { memory })")
	return f
}

// Load builds the Config after fs.Parse: defaults, then the -config file,
// then the environment (EnvJoinToken), then every flag given on the command
// line, then Validate; last it reads the join token file, if any.
func (f *Flags) Load() (*Config, error) { return f.LoadEnv(os.LookupEnv) }

// LoadEnv is Load with the environment read through lookup.
func (f *Flags) LoadEnv(lookup func(string) (string, bool)) (*Config, error) {
	cfg := Default()
	if f.configFile != "" {
		if err := LoadFile(f.configFile, &cfg); err != nil {
			return nil, err
		}
	}
	if tok, ok := lookup(EnvJoinToken); ok && tok != "" {
		cfg.JoinToken, cfg.JoinTokenFile = strings.TrimSpace(tok), ""
	}
	var err error
	tokenFlags := 0
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			cfg.Name = f.name
		case "datacenter":
			cfg.Datacenter = f.datacenter
		case "broker":
			cfg.Brokers = append([]string(nil), f.brokers...)
		case "data-dir":
			cfg.DataDir = f.dataDir
		case "join-token":
			cfg.JoinToken, cfg.JoinTokenFile = f.joinToken, ""
			tokenFlags++
		case "join-token-file":
			cfg.JoinToken, cfg.JoinTokenFile = "", f.tokenFile
			tokenFlags++
		case "artifact-file-path":
			cfg.ArtifactFilePaths = append([]string(nil), f.filePaths...)
		case "artifact-allow-network":
			nets, perr := ParseNetworks(f.allowNets)
			if perr != nil {
				err = fmt.Errorf("%w: -artifact-allow-network: %v", ErrInvalid, perr)
				return
			}
			cfg.ArtifactAllowNetworks = nets
		case "central":
			cfg.Central = f.central
		case "advertise":
			cfg.Advertise = f.advertise
		case "topic-prefix":
			cfg.TopicPrefix = f.prefix
		case "heartbeat":
			cfg.Heartbeat = f.heartbeat
		case "log-level":
			cfg.LogLevel = f.logLevel
		case "tls-ca-file":
			cfg.TLS.CAFile = f.tls.CAFile
		case "tls-cert-file":
			cfg.TLS.CertFile = f.tls.CertFile
		case "tls-key-file":
			cfg.TLS.KeyFile = f.tls.KeyFile
		case "gc-interval":
			cfg.GCInterval = f.gcInterval
		case "gc-max-allocs":
			cfg.GCMaxAllocs = f.gcMax
		case "gc-disk-usage-threshold":
			cfg.GCDiskUsageThreshold = f.gcDisk
		case "podman-default-registry":
			cfg.Podman.DefaultRegistry = f.registry
		case "reserved-cpu":
			cfg.Reserved.CPU = f.reserved.CPU
		case "reserved-memory":
			cfg.Reserved.MemoryMB = f.reserved.MemoryMB
		case "meta":
			if cfg.Meta == nil {
				cfg.Meta = map[string]string{}
			}
			for _, kv := range f.meta {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					err = fmt.Errorf("%w: -meta %q: use -meta key=value", ErrInvalid, kv)
					return
				}
				cfg.Meta[k] = v
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if tokenFlags > 1 {
		return nil, fmt.Errorf("%w: -join-token and -join-token-file are both given: keep -join-token-file", ErrInvalid)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.JoinTokenFile != "" {
		if err := cfg.readJoinTokenFile(); err != nil {
			return nil, err
		}
	}
	return &cfg, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
