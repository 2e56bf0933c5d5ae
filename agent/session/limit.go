package session

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/tether-edge/tether/protocol"
)

// packetOverhead bounds what an MQTT 3.1.1 PUBLISH adds to its topic and
// payload: fixed header (1), remaining length (≤ 4), topic length (2) and
// packet id (2).
const packetOverhead = 9

// sizeLimit refuses messages too large for the broker. The embedded broker
// disconnects a client that sends a packet over protocol.MaxMessageSize;
// an agent whose hello is that large would reconnect, send it again and be
// cut off again, forever. Refused: logged and counted instead.
type sizeLimit struct {
	refused atomic.Uint64
}

// refuse reports whether a message must not be sent, counting it if so.
func (l *sizeLimit) refuse(log *slog.Logger, topic string, payload []byte) error {
	n := len(payload) + len(topic) + packetOverhead
	if n <= protocol.MaxMessageSize {
		return nil
	}
	l.refused.Add(1)
	err := fmt.Errorf("publish to %s: %w: %d bytes with the topic and MQTT header (limit %d)", topic, protocol.ErrTooLarge, n, protocol.MaxMessageSize)
	log.Error("message too large for the broker not sent", "err", err)
	return err
}

// RefusedTooLarge returns how many messages Publish and PublishWait
// refused for being over the broker's size limit.
func (s *Session) RefusedTooLarge() uint64 { return s.limit.refused.Load() }
