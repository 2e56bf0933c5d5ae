package gateway

import (
	"context"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// AskStats asks a node for an allocation's tasks' usage and waits for its
// one reply (or ctx). It subscribes to the reply topic on the broker the
// node was last heard through before publishing the request, and
// unsubscribes before it returns.
func (g *Gateway) AskStats(ctx context.Context, nodeID string, req protocol.StatsRequest) (*protocol.StatsReply, error) {
	if len(g.clients) == 0 {
		return nil, ErrNotConnected
	}
	site := g.heardThrough(nodeID)
	c := g.clients[site]
	req.V = protocol.Version
	replies := make(chan *protocol.StatsReply, 1)
	topic := g.topics.StatsReply(nodeID, req.ID)
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		g.received.Add(1)
		var r protocol.StatsReply
		err := protocol.Decode(m.Payload(), &r)
		if err == nil && (r.ID != req.ID || len(r.Tasks) > protocol.MaxStatsTasks) {
			err = fmt.Errorf("%w: stats reply for request %q with %d tasks", protocol.ErrMalformed, r.ID, len(r.Tasks))
		}
		if err != nil {
			g.drop(m.Topic(), fmt.Errorf("malformed stats reply: %w", err))
			return
		}
		select {
		case replies <- &r:
		default: // a second reply: the first one is taken
		}
	})
	defer c.Unsubscribe(topic)
	if err := waitToken(ctx, tok); err != nil {
		return nil, fmt.Errorf("gateway: subscribe %s: %w", topic, err)
	}
	b, err := protocol.Encode(&req)
	if err != nil {
		return nil, fmt.Errorf("gateway: encode stats request: %w", err)
	}
	if err := g.publish(c, g.topics.Stats(nodeID), 1, false, b); err != nil {
		return nil, err
	}
	select {
	case r := <-replies:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
