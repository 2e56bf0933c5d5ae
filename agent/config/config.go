package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tether-edge/tether/drivers/podman"
	"github.com/tether-edge/tether/protocol"
)

// EnvJoinToken is the environment variable the agent reads a join token
// from when neither -join-token nor -join-token-file is given. The agent
// removes it from its own environment once read, so tasks (and ${env.*})
// never see it.
const EnvJoinToken = "TETHER_JOIN_TOKEN"

// MaxJoinTokenFileSize bounds the join token file read.
const MaxJoinTokenFileSize = 4 << 10

// Defaults.
const (
	DefaultDatacenter = "dc1"
	DefaultBroker     = "tcp://127.0.0.1:1883"
	DefaultDataDir    = "/var/lib/tether-agent"
	DefaultHeartbeat  = 5 * time.Second
	DefaultLogLevel   = "info"
	// Allocation GC (Nomad's client defaults).
	DefaultGCInterval           = time.Minute
	DefaultGCMaxAllocs          = 50
	DefaultGCDiskUsageThreshold = 80.0
)

// MaxGCMaxAllocs bounds gc_max_allocs (a node's desired state holds at
// most 1,024 allocations).
const MaxGCMaxAllocs = 100_000

// ErrInvalid wraps every validation error.
var ErrInvalid = errors.New("invalid agent config")

// Config is the agent's configuration. It is validated once by Validate and
// then treated as immutable.
type Config struct {
	Name       string
	Datacenter string
	Brokers    []string
	DataDir    string
	// JoinToken enrols the agent at Central (docs/security.md) when it
	// holds no credentials yet. Load fills it from JoinTokenFile or the
	// environment (EnvJoinToken) too: a token on the command line is
	// visible to every user of the machine in ps.
	JoinToken string
	// JoinTokenFile is the file Load read JoinToken from (join_token_file,
	// -join-token-file); "" when the token came from elsewhere.
	JoinTokenFile string
	// Central is the URL of central's HTTP API the agent enrols at
	// (e.g. http://10.0.0.1:7600); needed with JoinToken.
	Central string
	// Advertise is the IP address the node gives for its tasks' ports and
	// services (attribute unique.network.ip-address); empty: the first
	// non-loopback IPv4 address of its interfaces.
	Advertise   string
	TopicPrefix string
	Heartbeat   time.Duration
	Meta        map[string]string
	LogLevel    string // debug | info | warn | error
	// TLS is the CA and client certificate for TLS brokers and an
	// https:// central (tls.go); zero: system roots, no certificate.
	TLS TLS
	// ArtifactFilePaths are the directories file:// artifact sources may
	// be read from; empty: file:// artifacts are refused.
	ArtifactFilePaths []string
	// ArtifactAllowNetworks are loopback, link-local and other node-local
	// prefixes that artifact downloads may reach anyway (refused by
	// default). Central's API and the brokers are refused regardless.
	ArtifactAllowNetworks []netip.Prefix
	// GCInterval is how often the agent checks for finished allocations'
	// directories to remove, and how long one central no longer lists is
	// kept (gc_interval). GCMaxAllocs is how many allocations, running
	// and finished, the agent holds before it removes the oldest finished
	// ones (gc_max_allocs). GCDiskUsageThreshold is the percentage of the
	// data dir's filesystem in use above which it removes finished ones,
	// oldest first (gc_disk_usage_threshold). See docs/agent.md.
	GCInterval           time.Duration
	GCMaxAllocs          int
	GCDiskUsageThreshold float64
	// Podman configures the Podman driver (podman.go).
	Podman Podman
	// Reserved is what the node keeps out of what it offers (reserved.go).
	Reserved Reserved
}

// Default returns the configuration used when nothing is set. Name defaults
// to the host name.
func Default() Config {
	name, _ := os.Hostname()
	return Config{
		Name:        name,
		Datacenter:  DefaultDatacenter,
		Brokers:     []string{DefaultBroker},
		DataDir:     DefaultDataDir,
		TopicPrefix: protocol.DefaultPrefix,
		Heartbeat:   DefaultHeartbeat,
		Meta:        map[string]string{},
		LogLevel:    DefaultLogLevel,

		GCInterval:           DefaultGCInterval,
		GCMaxAllocs:          DefaultGCMaxAllocs,
		GCDiskUsageThreshold: DefaultGCDiskUsageThreshold,

		Podman: Podman{DefaultRegistry: podman.DefaultRegistry},
	}
}

var brokerSchemes = []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}

// Validate checks every field and returns an error naming the key and the fix.
func (c *Config) Validate() error {
	if c.Advertise != "" && net.ParseIP(c.Advertise) == nil {
		return fmt.Errorf("%w: advertise %q is not an IP address: use e.g. advertise = \"192.168.1.20\"", ErrInvalid, c.Advertise)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if c.Name == "" {
		bad(`name is empty: set name = "pi-kitchen" or -name`)
	} else if err := protocol.CheckID("name", c.Name); err != nil {
		bad("%v", err)
	}
	if c.Datacenter == "" {
		bad(`datacenter is empty: set datacenter = "dc1" or -datacenter`)
	} else if err := protocol.CheckID("datacenter", c.Datacenter); err != nil {
		bad("%v", err)
	}
	if len(c.Brokers) == 0 {
		bad(`brokers is empty: set brokers = ["tcp://host:1883"] or -broker`)
	}
	for _, b := range c.Brokers {
		u, err := url.Parse(b)
		switch {
		case err != nil:
			bad("broker %q is not a URL (%v): use tcp://host:1883", b, err)
		case !contains(brokerSchemes, u.Scheme):
			bad("broker %q: scheme %q not supported (use one of %s), e.g. tcp://host:1883", b, u.Scheme, strings.Join(brokerSchemes, ", "))
		case u.Host == "":
			bad("broker %q has no host: use tcp://host:1883", b)
		}
	}
	if c.Central != "" {
		u, err := url.Parse(c.Central)
		switch {
		case err != nil:
			bad("central %q is not a URL (%v): use e.g. central = \"http://10.0.0.1:7600\"", c.Central, err)
		case u.Scheme != "http" && u.Scheme != "https":
			bad("central %q: scheme %q not supported (use http or https), e.g. central = \"http://10.0.0.1:7600\"", c.Central, u.Scheme)
		case u.Host == "":
			bad("central %q has no host: use e.g. central = \"http://10.0.0.1:7600\"", c.Central)
		}
	} else if c.JoinToken != "" || c.JoinTokenFile != "" {
		// The token is only ever used to enrol at central's HTTP API.
		bad(`a join token needs central's HTTP address to enrol at: set central = "http://central:7600" or -central`)
	}
	for _, p := range c.ArtifactFilePaths {
		if !filepath.IsAbs(p) {
			bad(`artifact_file_paths: %q is not an absolute directory: use e.g. artifact_file_paths = ["/srv/artifacts"]`, p)
		}
	}
	if c.DataDir == "" {
		bad(`data_dir is empty: set data_dir = "/var/lib/tether-agent" or -data-dir`)
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") || strings.HasPrefix(c.TopicPrefix, "/") {
		bad("topic_prefix %q: must be non-empty, without '+' or '#', not starting with '/' (default %s)", c.TopicPrefix, protocol.DefaultPrefix)
	}
	if c.Heartbeat < 10*time.Millisecond || c.Heartbeat > 10*time.Minute {
		bad(`heartbeat %s out of range: use a duration between 10ms and 10m, e.g. heartbeat = "5s"`, c.Heartbeat)
	}
	if c.GCInterval < time.Second || c.GCInterval > 7*24*time.Hour {
		bad(`gc_interval %s out of range: use a duration between 1s and 168h, e.g. gc_interval = "1m" (the default)`, c.GCInterval)
	}
	if c.GCMaxAllocs < 1 || c.GCMaxAllocs > MaxGCMaxAllocs {
		bad(`gc_max_allocs %d out of range: use a number of allocations between 1 and %d, e.g. gc_max_allocs = 50 (the default)`, c.GCMaxAllocs, MaxGCMaxAllocs)
	}
	if !(c.GCDiskUsageThreshold > 0 && c.GCDiskUsageThreshold <= 100) { // NaN too
		bad(`gc_disk_usage_threshold %v out of range: use a percentage above 0 and at most 100, e.g. gc_disk_usage_threshold = 80 (the default; 100 turns the disk check off)`, c.GCDiskUsageThreshold)
	}
	if !contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad(`log_level %q unknown: use one of debug, info, warn, error`, c.LogLevel)
	}
	if _, err := c.TLS.ClientConfig(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Podman.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Reserved.validate(); err != nil {
		errs = append(errs, err)
	}
	keys := make([]string, 0, len(c.Meta))
	for k := range c.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, " \t\n=") {
			bad("meta key %q: must be non-empty without spaces or '='", k)
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// readJoinTokenFile sets JoinToken from JoinTokenFile. The file holds the
// token alone (surrounding white space and a final newline are trimmed)
// and must not be readable by every user of the machine.
func (c *Config) readJoinTokenFile() error {
	f, err := os.Open(c.JoinTokenFile)
	if err != nil {
		return fmt.Errorf("%w: join_token_file: %v (create it with the token from `central node join-token create`, mode 0600, or remove the key once the agent is enrolled)", ErrInvalid, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: join_token_file: %v", ErrInvalid, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: join_token_file %s is not a regular file", ErrInvalid, c.JoinTokenFile)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("%w: join_token_file %s is readable by every user (mode %04o): chmod 600 %s", ErrInvalid, c.JoinTokenFile, fi.Mode().Perm(), c.JoinTokenFile)
	}
	b := make([]byte, MaxJoinTokenFileSize+1)
	n, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return fmt.Errorf("%w: join_token_file: %v", ErrInvalid, err)
	}
	if n > MaxJoinTokenFileSize {
		return fmt.Errorf("%w: join_token_file %s is larger than %d bytes: it should hold only the token", ErrInvalid, c.JoinTokenFile, MaxJoinTokenFileSize)
	}
	tok := strings.TrimSpace(string(b[:n]))
	switch {
	case tok == "":
		return fmt.Errorf("%w: join_token_file %s is empty: write the token from `central node join-token create` into it", ErrInvalid, c.JoinTokenFile)
	case strings.ContainsAny(tok, " \t\r\n"):
		return fmt.Errorf("%w: join_token_file %s holds more than one word: it should hold only the token", ErrInvalid, c.JoinTokenFile)
	}
	c.JoinToken = tok
	return nil
}
