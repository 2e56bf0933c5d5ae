package gateway

import (
	"maps"
	"slices"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// subackFailure is the SUBACK return code of a refused subscription.
const subackFailure = 0x80

// maxSubscribeWait bounds the wait between asking again for refused
// subscriptions.
const maxSubscribeWait = 10 * time.Second

// subscribe asks the broker for filters. Filters it refuses (SUBACK 0x80)
// are asked for again, after wait and then twice as long each time, while
// the connection lasts (a new connection subscribes to everything): a
// clustered broker refuses subscriptions while it elects new leaders for
// the streams a dead node led (NATS: "Unable to add JetStream consumer ...
// timeout"), and central would hear nothing from the nodes until its next
// reconnect.
func (g *Gateway) subscribe(c paho.Client, url string, filters map[string]byte, h paho.MessageHandler, wait time.Duration) {
	tok := c.SubscribeMultiple(filters, h)
	tok.Wait() // completes on the SUBACK or when the connection ends
	if tok.Error() != nil {
		g.log.Warn("subscribe failed", "broker", url, "err", tok.Error())
		return
	}
	refused := map[string]byte{}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == subackFailure {
				refused[f] = filters[f]
			}
		}
	}
	if len(refused) == 0 {
		return
	}
	g.extra.refusedSubs.Add(1)
	g.log.Warn("the broker refused subscriptions; asking again", "broker", url, "filters", slices.Sorted(maps.Keys(refused)), "in", wait)
	time.Sleep(wait) // a retry timer, not synchronisation; the loop ends with the connection
	if !c.IsConnectionOpen() {
		return
	}
	g.subscribe(c, url, refused, h, min(2*wait, maxSubscribeWait))
}

// RefusedSubscribes counts the SUBACKs that refused a filter (each was
// asked for again).
func (g *Gateway) RefusedSubscribes() uint64 { return g.extra.refusedSubs.Load() }
