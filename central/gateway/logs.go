package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// LogStream is one open logs request: chunks arrive on C in the order the
// broker delivered them. Close unsubscribes and tells the agent to stop.
type LogStream struct {
	C <-chan *protocol.LogsChunk

	g      *Gateway
	client paho.Client
	req    protocol.LogsRequest
	node   string
	topic  string
	once   sync.Once
}

// extraCounters are counters added after the first cut of the gateway:
// drops by reason and broker (re)connects.
type extraCounters struct {
	unknownTopic, decode, tooLarge, logsOverflow atomic.Uint64
	connects                                     atomic.Uint64
	refusedOut                                   atomic.Uint64 // publishes over the size limit
	refusedSubs                                  atomic.Uint64 // SUBACKs that refused a filter (subscribe.go)
	withheld                                     atomic.Uint64 // retained messages not queued for a broker that was down (gateway.go)
}

func (e *extraCounters) drop(why error) {
	switch {
	case errors.Is(why, errUnknownTopic):
		e.unknownTopic.Add(1)
	case errors.Is(why, protocol.ErrTooLarge):
		e.tooLarge.Add(1)
	default:
		e.decode.Add(1)
	}
}

// Drops returns how many inbound messages were dropped, by reason:
// unknown_topic, too_large (over protocol.MaxMessageSize), malformed
// (failed to decode otherwise, or named the wrong node), logs_overflow
// (log chunks a slow reader could not take) and exec_overflow (exec
// sessions ended because their agent sent more than its credit).
func (g *Gateway) Drops() map[string]uint64 {
	return map[string]uint64{
		"unknown_topic": g.extra.unknownTopic.Load(),
		"malformed":     g.extra.decode.Load(),
		"too_large":     g.extra.tooLarge.Load(),
		"logs_overflow": g.extra.logsOverflow.Load(),
		"exec_overflow": g.exec.overflow.Load(),
	}
}

// RefusedPublishes returns how many messages the gateway refused to
// publish because they were over the broker's size limit.
func (g *Gateway) RefusedPublishes() uint64 { return g.extra.refusedOut.Load() }

// Withheld returns how many retained messages were not queued for a broker
// whose connection was down; its next connection publishes them again.
func (g *Gateway) Withheld() uint64 { return g.extra.withheld.Load() }

// Connects returns how many times the gateway connected to a broker
// (first connections included): more than the number of brokers means
// reconnects.
func (g *Gateway) Connects() uint64 { return g.extra.connects.Load() }

// OpenLogs subscribes to the reply topic of req on the broker the node was
// last heard through, then publishes req to the node. The subscription
// lives until Close.
func (g *Gateway) OpenLogs(ctx context.Context, nodeID string, req protocol.LogsRequest) (*LogStream, error) {
	if len(g.clients) == 0 {
		return nil, ErrNotConnected
	}
	site := g.heardThrough(nodeID)
	c := g.clients[site]
	req.V = protocol.Version
	ch := make(chan *protocol.LogsChunk, 256)
	s := &LogStream{C: ch, g: g, client: c, req: req, node: nodeID, topic: g.topics.LogsReply(nodeID, req.ID)}
	tok := c.Subscribe(s.topic, 1, func(_ paho.Client, m paho.Message) {
		g.received.Add(1)
		var chunk protocol.LogsChunk
		if err := protocol.Decode(m.Payload(), &chunk); err != nil || chunk.ID != req.ID {
			g.drop(m.Topic(), fmt.Errorf("malformed log chunk: %w", err))
			return
		}
		select {
		case ch <- &chunk:
		default:
			g.extra.logsOverflow.Add(1)
		}
	})
	if err := waitToken(ctx, tok); err != nil {
		// The subscribe may still complete at the broker: take it back,
		// or its handler and the broker's subscription outlive the call.
		c.Unsubscribe(s.topic)
		return nil, fmt.Errorf("gateway: subscribe %s: %w", s.topic, err)
	}
	if err := s.send(req); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Renew publishes the request again: the agent keeps following.
func (s *LogStream) Renew() error { return s.send(s.req) }

func (s *LogStream) send(req protocol.LogsRequest) error {
	b, err := protocol.Encode(&req)
	if err != nil {
		return fmt.Errorf("gateway: encode logs request: %w", err)
	}
	return s.g.publish(s.client, s.g.topics.Logs(s.node), 1, false, b)
}

// Close cancels a follow at the agent and unsubscribes.
func (s *LogStream) Close() {
	s.once.Do(func() {
		if s.req.Follow {
			c := s.req
			c.Cancel = true
			_ = s.send(c)
		}
		s.client.Unsubscribe(s.topic)
	})
}
