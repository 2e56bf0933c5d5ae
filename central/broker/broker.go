// Package broker runs the MQTT broker embedded in central (mochi-mqtt), so a
// single machine needs nothing else. Real sites run Mosquitto; central talks
// to both the same way, as an ordinary MQTT client.
//
//	b, err := broker.Start("127.0.0.1:1883", logger)
//	defer b.Close()
//	url := b.URL() // tcp://127.0.0.1:1883, for central's own client and local agents
//
// StartTLS serves MQTT over TLS instead (URL ssl://...); its tls.Config
// decides whether clients must present a certificate.
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	count *counters // refusals (auth.go)
	tls   bool
}

// handshakeTimeout bounds a TLS client's handshake and CONNECT packet;
// the broker replaces the deadline with the keepalive once connected.
const handshakeTimeout = 10 * time.Second

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves MQTT
// until Close.
func Start(addr string, logger *slog.Logger) (*Broker, error) {
	return StartAuth(addr, logger, nil, protocol.Topics{})
}

// StartAuth is Start with client authentication and topic ACLs enforced
// by auth (auth.go); a nil auth lets every client do anything.
func StartAuth(addr string, logger *slog.Logger, auth Authority, topics protocol.Topics) (*Broker, error) {
	return StartTLS(addr, logger, auth, topics, nil)
}

// StartTLS is StartAuth serving MQTT over TLS with tlsCfg (plain TCP when
// tlsCfg is nil). tlsCfg.ClientAuth decides whether clients need a
// certificate signed by tlsCfg.ClientCAs.
func StartTLS(addr string, logger *slog.Logger, auth Authority, topics protocol.Topics, tlsCfg *tls.Config) (*Broker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w (is another broker running there? pick another with -mqtt)", addr, err)
	}
	bound := ln.Addr()
	if tlsCfg != nil {
		ln = tls.NewListener(deadlineListener{ln}, tlsCfg)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 1 << 20 // matches protocol.MaxMessageSize
	caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
	srv := mqtt.New(&mqtt.Options{
		Logger:       logger.With("component", "broker"),
		Capabilities: caps,
	})
	count := new(counters)
	var hook mqtt.Hook = new(allow.AllowHook)
	if auth != nil {
		hook = &authHook{auth: auth, topics: topics, count: count}
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
	return &Broker{srv: srv, addr: bound, count: count, tls: tlsCfg != nil}, nil
}

// deadlineListener gives each new connection handshakeTimeout to finish
// the TLS handshake and send CONNECT, so a silent client cannot hold a
// connection open forever.
type deadlineListener struct{ net.Listener }

func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.SetDeadline(time.Now().Add(handshakeTimeout))
	}
	return c, err
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

// Counters returns the broker's refusals: bad logins, denied topics,
// oversized packets.
func (b *Broker) Counters() Counters { return b.count.snapshot() }

// Close stops the broker and disconnects its clients.
func (b *Broker) Close() error { return b.srv.Close() }

// DisconnectUser disconnects every client logged in as username (a revoked
// node), so it keeps no subscription.
func (b *Broker) DisconnectUser(username string) {
	for _, cl := range b.srv.Clients.GetAll() {
		if string(cl.Properties.Username) == username {
			b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
	}
}
