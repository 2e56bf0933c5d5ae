// Package broker runs the MQTT broker embedded in central (mochi-mqtt), so a
// single machine needs nothing else. Real sites run Mosquitto; central talks
// to both the same way, as an ordinary MQTT client.
//
//	b, err := broker.Start("127.0.0.1:1883", logger)
//	defer b.Close()
//	url := b.URL() // tcp://127.0.0.1:1883, for central's own client and local agents
//
// StartTLS serves MQTT over TLS instead (URL ssl://...); its tls.Config
// decides whether clients must present a certificate. Run takes every
// setting (Config): with an Authority the broker checks each CONNECT's
// login, client ID and Will topic (auth.go); its listener survives accept
// errors, bounds open connections and closes those that send no CONNECT
// in time (listener.go).
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	allow "github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/protocol"
)

// Broker is a running embedded broker.
type Broker struct {
	srv   *mqtt.Server
	addr  net.Addr
	count *counters // refusals (auth.go, listener.go)
	tls   bool
	guard *guardListener
}

// Config configures an embedded broker. Zero values take the defaults.
type Config struct {
	Addr   string // "127.0.0.1:0" picks a free port
	Logger *slog.Logger
	// Auth enforces logins, topic ACLs (Wills included) and client IDs
	// (auth.go); nil lets every client do anything.
	Auth   Authority
	Topics protocol.Topics
	// TLS serves MQTT over TLS (nil: plain TCP); its ClientAuth decides
	// whether clients need a certificate signed by its ClientCAs.
	TLS *tls.Config
	// MaxConnections bounds the open TCP connections, connected or not;
	// one more is closed as soon as it is accepted. Default
	// DefaultMaxConnections.
	MaxConnections int
	// ConnectTimeout is how long a new connection may take to finish its
	// TLS handshake and send CONNECT before it is closed. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves MQTT
// until Close.
func Start(addr string, logger *slog.Logger) (*Broker, error) {
	return Run(Config{Addr: addr, Logger: logger})
}

// StartAuth is Start with client authentication and topic ACLs enforced
// by auth (auth.go); a nil auth lets every client do anything.
func StartAuth(addr string, logger *slog.Logger, auth Authority, topics protocol.Topics) (*Broker, error) {
	return Run(Config{Addr: addr, Logger: logger, Auth: auth, Topics: topics})
}

// StartTLS is StartAuth serving MQTT over TLS with tlsCfg (plain TCP when
// tlsCfg is nil). tlsCfg.ClientAuth decides whether clients need a
// certificate signed by tlsCfg.ClientCAs.
func StartTLS(addr string, logger *slog.Logger, auth Authority, topics protocol.Topics, tlsCfg *tls.Config) (*Broker, error) {
	return Run(Config{Addr: addr, Logger: logger, Auth: auth, Topics: topics, TLS: tlsCfg})
}

// Run starts a broker as cfg says and serves MQTT until Close.
func Run(cfg Config) (*Broker, error) {
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxConnections < 0 {
		return nil, fmt.Errorf("embedded broker: mqtt_max_connections = %d: use a positive number (default %d)", cfg.MaxConnections, DefaultMaxConnections)
	}
	if cfg.ConnectTimeout < 0 {
		return nil, fmt.Errorf("embedded broker: connect timeout %v: use a positive duration (default %v)", cfg.ConnectTimeout, DefaultConnectTimeout)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	logger := cfg.Logger.With("component", "broker")
	raw, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w (is another broker running there? pick another with -mqtt)", cfg.Addr, err)
	}
	bound := raw.Addr()
	count := new(counters)
	guard := newGuardListener(raw, cfg.MaxConnections, cfg.ConnectTimeout, logger, count)
	var ln net.Listener = guard
	if cfg.TLS != nil {
		ln = tls.NewListener(guard, cfg.TLS)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 1 << 20 // matches protocol.MaxMessageSize
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	// mochi deletes every retained message older than this (default 24 h)
	// and every inflight one past it: a node's desired state and the
	// service sets are retained for as long as they hold, which is often
	// days, and a device that reboots while central is unreachable must
	// still find them (DESIGN.md). 0: no forced expiry.
	caps.MaximumMessageExpiryInterval = 0
	// mochi drops QoS 1 messages for a client past 8,192 unacknowledged
	// ones (default MaximumInflight): central's one connection loses
	// hellos when thousands of agents come back at once (docs/scale.md).
	// Raising it to 65,535 was worse, not better: mochi then wrote tens of
	// thousands of messages to central, which reads no faster, its writes
	// timed out and it dropped central's connection again and again
	// (10,000 simulated agents: 9,689 nodes down). Left at the default
	// until central reads its connection without blocking on handling.
	srv := mqtt.New(&mqtt.Options{
		Logger:       logger,
		Capabilities: caps,
	})
	var hook mqtt.Hook = new(allow.AllowHook)
	if cfg.Auth != nil {
		hook = &authHook{auth: cfg.Auth, topics: cfg.Topics, count: count}
	}
	if err := errors.Join(srv.AddHook(hook, nil), srv.AddHook(&countHook{c: count}, nil)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &Broker{srv: srv, addr: bound, count: count, tls: cfg.TLS != nil, guard: guard}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.addr }

// URL is the broker's address as an MQTT URL for clients: ssl://... with
// TLS, tcp://... without.
func (b *Broker) URL() string {
	if b.tls {
		return "ssl://" + b.addr.String()
	}
	return "tcp://" + b.addr.String()
}

// Counters returns the broker's refusals: bad logins, client IDs and
// Wills, denied topics, oversized packets, connections over the limit and
// accept errors.
func (b *Broker) Counters() Counters { return b.count.snapshot() }

// Close stops the broker and disconnects its clients.
func (b *Broker) Close() error {
	b.guard.drain(5 * time.Second) // well within the 10 s a server gives each shutdown step
	return b.srv.Close()
}

// DisconnectUser disconnects every client logged in as username (a revoked
// node), so it keeps no subscription.
func (b *Broker) DisconnectUser(username string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if string(cl.Properties.Username) == username {
			// A login that no longer exists publishes nothing, its Will
			// included (mochi sends the Will of a client it disconnects).
			atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
			b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
}
