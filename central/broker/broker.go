// Package broker runs the MQTT broker embedded in central (mochi-mqtt), so a
// single machine needs nothing else. Real sites run Mosquitto; central talks
// to both the same way, as an ordinary MQTT client.
//
//	b, err := broker.Start("127.0.0.1:1883", logger)
//	defer b.Close()
//	url := b.URL() // tcp://127.0.0.1:1883, for central's own client and local agents
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

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
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves MQTT
// until Close.
func Start(addr string, logger *slog.Logger) (*Broker, error) {
	return StartAuth(addr, logger, nil, protocol.Topics{})
}

// StartAuth is Start with client authentication and topic ACLs enforced
// by auth (auth.go); a nil auth lets every client do anything.
func StartAuth(addr string, logger *slog.Logger, auth Authority, topics protocol.Topics) (*Broker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w (is another broker running there? pick another with -mqtt)", addr, err)
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
	return &Broker{srv: srv, addr: ln.Addr(), count: count}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() net.Addr { return b.addr }

// URL is the broker's address as an MQTT URL for clients.
func (b *Broker) URL() string { return "tcp://" + b.addr.String() }

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
