package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// Defaults.
const (
	DefaultDatacenter = "dc1"
	DefaultBroker     = "tcp://127.0.0.1:1883"
	DefaultDataDir    = "/var/lib/tether-agent"
	DefaultHeartbeat  = 5 * time.Second
	DefaultLogLevel   = "info"
)

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
	// holds no credentials yet.
	JoinToken string
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
	if c.DataDir == "" {
		bad(`data_dir is empty: set data_dir = "/var/lib/tether-agent" or -data-dir`)
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") || strings.HasPrefix(c.TopicPrefix, "/") {
		bad("topic_prefix %q: must be non-empty, without '+' or '#', not starting with '/' (default %s)", c.TopicPrefix, protocol.DefaultPrefix)
	}
	if c.Heartbeat < 10*time.Millisecond || c.Heartbeat > 10*time.Minute {
		bad(`heartbeat %s out of range: use a duration between 10ms and 10m, e.g. heartbeat = "5s"`, c.Heartbeat)
	}
	if !contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad(`log_level %q unknown: use one of debug, info, warn, error`, c.LogLevel)
	}
	if _, err := c.TLS.ClientConfig(); err != nil {
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
