// Package gateway is central's side of the MQTT wire: it connects to one
// broker per site (the embedded one by default), decodes what agents
// publish, counts and drops what is malformed, and publishes desired state,
// acks and service sets.
//
//	g, _ := gateway.Connect(ctx, gateway.Config{Brokers: urls, Handle: func(m gateway.Inbound) { in <- m }})
//	...                       // Handle runs on paho's goroutine: decode done, hand over, return
//	g.PublishDesired(nodeID, &desired)
//	g.Close()
//
// Central connects with one stable client id and a persistent session, so
// QoS 1 messages agents send while central restarts (or fails over) wait at
// the broker.
package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// ErrNotConnected is returned when publishing while no broker is reachable.
var ErrNotConnected = errors.New("gateway: not connected to the broker")

// packetOverhead bounds the bytes an MQTT 3.1.1 PUBLISH adds to its topic
// and payload: fixed header (1), remaining length (≤ 4), topic length (2)
// and packet id (2).
const packetOverhead = 9

// errUnknownTopic is the drop reason of a message on a topic the gateway
// does not parse.
var errUnknownTopic = errors.New("unknown topic")

// Inbound is one decoded message from an agent. Exactly one of the message
// fields is set, according to Kind.
type Inbound struct {
	Kind   protocol.Kind
	NodeID string
	Broker int // index in Config.Brokers the message came through

	Hello     *protocol.Hello
	Heartbeat *protocol.Heartbeat
	Update    *protocol.Update
	Online    *protocol.Online
}

// Site is one broker central connects to. A named site serves the agents
// of that datacenter: desired state for a node of datacenter Name goes to
// that broker until the node is heard through another.
type Site struct {
	Name     string // datacenter; "" for a shared broker
	URL      string
	Username string // default Config.Username
	Password string
}

// Config configures the gateway. It is not changed after Connect.
type Config struct {
	Brokers []string // MQTT URLs of shared brokers (unnamed sites)
	Sites   []Site   // per-datacenter brokers, after Brokers
	// MirrorShared treats every unnamed broker as a mirror of the others
	// (the embedded brokers of an HA cluster): node messages go to all of
	// them, so an agent that fails over to another finds its retained state.
	MirrorShared bool
	// ConnectWait, when set, bounds how long Connect waits for the other
	// brokers once one is connected; the rest keep connecting in the
	// background (a new leader must not wait on a dead server's broker).
	ConnectWait time.Duration
	ClientID    string // default "tether-central"
	Prefix      string // topic prefix, default protocol.DefaultPrefix
	Username    string
	Password    string
	// TLS is used for brokers with a TLS scheme (ssl://, tls://, mqtts://,
	// wss://): the CA to trust and the client certificate to present.
	// Nil: the system roots, no client certificate.
	TLS    *tls.Config
	Logger *slog.Logger
	// ServiceJSONMirror also publishes every service set as JSON, retained,
	// on <prefix>/svc-json/<name>, for devices that cannot decode CBOR.
	ServiceJSONMirror bool
	// SigningKeys, when set, returns the keys desired state and service
	// sets are signed with (sign.go); none: messages go out unsigned.
	SigningKeys func() []ed25519.PrivateKey
	// Handle receives every well-formed message. It is called from the MQTT
	// client's goroutine and must not block for long.
	Handle func(Inbound)
	// Reconnected, when set, is called (on the MQTT client's goroutine)
	// each time a broker connection comes back after it was lost: the
	// broker may have restarted and lost its retained messages. It is
	// also called for a first connection that came after retained
	// messages were withheld from that broker (publish). It must publish
	// every desired state and service set again.
	Reconnected func(broker int)
	// DesiredAcked, when set, is called (on one goroutine of the gateway's,
	// in publishing order) once every broker a desired state went to has
	// acknowledged it, within a minute: from then on its delivery is the
	// broker's.
	DesiredAcked func(nodeID string, index uint64)
	// Known, when set, reports whether central knows a node. The broker a
	// node was heard through is remembered (for routing) on a hello, and
	// on other messages only from known nodes, so made-up node IDs do not
	// grow that map. Nil: every node is remembered.
	Known func(nodeID string) bool
}

// Counters are the gateway's message counters.
type Counters struct {
	Received  uint64 `json:"received"`
	Malformed uint64 `json:"malformed"`
	Published uint64 `json:"published"`
}

// Gateway is a connected gateway.
type Gateway struct {
	cfg     Config
	topics  protocol.Topics
	sites   []Site        // one per client, in order
	clients []paho.Client // fixed after Connect
	// withheld[i]: a retained message was not handed to client i while
	// its connection was down (publish); its next connection calls
	// Reconnected.
	withheld []atomic.Bool
	log      *slog.Logger

	received, malformed, published atomic.Uint64
	extra                          extraCounters // drops by reason, connects (logs.go)
	exec                           execSlots     // exec sessions by node (exec.go)

	mu       sync.Mutex     // guards nodeSite
	nodeSite map[string]int // broker a node was last heard through

	acks      chan pendingAck // desired states waiting for the brokers' acks (DesiredAcked)
	closed    chan struct{}
	closeOnce sync.Once
}

// pendingAck is a desired state published, and the brokers' tokens for it.
type pendingAck struct {
	node  string
	index uint64
	toks  []paho.Token
}

// Connect connects to every broker and subscribes to the node topics. It
// waits for the first connection to each broker up to ctx's deadline; later
// losses are retried in the background.
func Connect(ctx context.Context, cfg Config) (*Gateway, error) {
	if len(cfg.Brokers) == 0 && len(cfg.Sites) == 0 {
		return nil, errors.New("gateway: no broker configured (set -broker or -mqtt)")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "tether-central"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Handle == nil {
		cfg.Handle = func(Inbound) {}
	}
	g := &Gateway{
		closed:   make(chan struct{}),
		cfg:      cfg,
		topics:   protocol.Topics{Prefix: cfg.Prefix},
		log:      cfg.Logger.With("component", "gateway"),
		nodeSite: map[string]int{},
	}
	for _, url := range cfg.Brokers {
		g.sites = append(g.sites, Site{URL: url})
	}
	g.sites = append(g.sites, cfg.Sites...)
	toks := make([]paho.Token, len(g.sites))
	g.withheld = make([]atomic.Bool, len(g.sites))
	for i, st := range g.sites {
		c := paho.NewClient(g.options(i, st))
		toks[i] = c.Connect()
		g.clients = append(g.clients, c)
	}
	if err := g.waitConnected(ctx, toks); err != nil {
		g.Close()
		return nil, err
	}
	if cfg.DesiredAcked != nil {
		g.acks = make(chan pendingAck, 8192)
		go g.ackLoop()
	}
	return g, nil
}

// ackWait bounds the wait for one desired state's acknowledgements: a
// message handed to a connection that then died for good (a server that
// will not come back) never gets one, and must not hold up the others.
const ackWait = time.Minute

// ackLoop waits for each desired state's acknowledgements, in publishing
// order, and reports it acknowledged. One not acknowledged within ackWait
// is not reported (the node is then not sent it again if it missed it).
func (g *Gateway) ackLoop() {
	timer := time.NewTimer(ackWait)
	defer timer.Stop()
	for {
		select {
		case a := <-g.acks:
			timer.Reset(ackWait)
			ok := true
		wait:
			for _, t := range a.toks {
				select {
				case <-t.Done():
					ok = ok && t.Error() == nil
				case <-timer.C:
					ok = false
					break wait
				case <-g.closed:
					return
				}
			}
			if ok {
				g.cfg.DesiredAcked(a.node, a.index)
			}
		case <-g.closed:
			return
		}
	}
}

// waitConnected waits for every first connection, or with ConnectWait for
// one and then at most ConnectWait for the others.
func (g *Gateway) waitConnected(ctx context.Context, toks []paho.Token) error {
	var grace <-chan time.Time
	pending := len(toks)
	done := make([]bool, len(toks))
	for pending > 0 {
		for i, tok := range toks {
			if done[i] {
				continue
			}
			select {
			case <-tok.Done():
				if err := tok.Error(); err != nil {
					return fmt.Errorf("gateway: connect to broker %s: %w", g.sites[i].URL, err)
				}
				done[i] = true
				pending--
				if grace == nil && g.cfg.ConnectWait > 0 {
					grace = time.After(g.cfg.ConnectWait)
				}
			default:
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			for i, d := range done {
				if !d {
					return fmt.Errorf("gateway: connect to broker %s: %w", g.sites[i].URL, ctx.Err())
				}
			}
		case <-grace:
			for i, d := range done {
				if !d {
					g.log.Warn("broker not reachable yet; connecting in the background", "broker", g.sites[i].URL)
				}
			}
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (g *Gateway) options(site int, st Site) *paho.ClientOptions {
	url := st.URL
	id := g.cfg.ClientID
	switch {
	case st.Name != "":
		id = id + "-" + st.Name
	case site > 0:
		id = fmt.Sprintf("%s-%d", id, site)
	}
	o := paho.NewClientOptions()
	for _, u := range SplitURLs(url) { // a clustered broker: one session, failing over between its nodes
		o.AddBroker(u)
	}
	o.SetClientID(id).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetProtocolVersion(4). // no fallback to MQTT 3.1 after a refused handshake (agent/session says why)
		SetOrderMatters(true).
		SetMessageChannelDepth(4096)
	if g.cfg.TLS != nil {
		o.SetTLSConfig(g.cfg.TLS)
	}
	if st.Username != "" {
		o.SetUsername(st.Username).SetPassword(st.Password)
	} else if g.cfg.Username != "" {
		o.SetUsername(g.cfg.Username).SetPassword(g.cfg.Password)
	}
	var connected atomic.Bool // this broker's first connection happened
	o.SetOnConnectHandler(func(c paho.Client) {
		g.log.Info("connected to broker", "broker", url)
		g.extra.connects.Add(1)
		again := connected.Swap(true)
		if withheld := g.withheld[site].Swap(false); (again || withheld) && g.cfg.Reconnected != nil {
			defer g.cfg.Reconnected(site)
		}
		filters := map[string]byte{
			g.topics.AllNodes(protocol.KindHello):  1,
			g.topics.AllNodes(protocol.KindHB):     0,
			g.topics.AllNodes(protocol.KindUp):     1,
			g.topics.AllNodes(protocol.KindOnline): 1,
		}
		go g.subscribe(c, url, filters, func(_ paho.Client, m paho.Message) { g.receive(site, m) }, time.Second) // subscribe.go
	})
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		g.log.Warn("lost broker connection; reconnecting", "broker", url, "err", err)
	})
	return o
}

// receive decodes one message. Anything malformed is counted and dropped.
func (g *Gateway) receive(site int, m paho.Message) {
	g.received.Add(1)
	kind, nodeID, ok := g.topics.Parse(m.Topic())
	if !ok {
		g.drop(m.Topic(), errUnknownTopic)
		return
	}
	in := Inbound{Kind: kind, NodeID: nodeID, Broker: site}
	var err error
	switch kind {
	case protocol.KindHello:
		in.Hello = new(protocol.Hello)
		if err = protocol.Decode(m.Payload(), in.Hello); err == nil && in.Hello.NodeID != nodeID {
			err = fmt.Errorf("hello names node %q on the topic of node %q", in.Hello.NodeID, nodeID)
		}
	case protocol.KindHB:
		in.Heartbeat = new(protocol.Heartbeat)
		err = protocol.Decode(m.Payload(), in.Heartbeat)
	case protocol.KindUp:
		in.Update = new(protocol.Update)
		err = protocol.Decode(m.Payload(), in.Update)
	case protocol.KindOnline:
		if len(m.Payload()) == 0 { // a cleared retained marker
			return
		}
		in.Online = new(protocol.Online)
		err = protocol.Decode(m.Payload(), in.Online)
	default:
		return // our own publications (desired, ack) are not subscribed to
	}
	if err != nil {
		g.drop(m.Topic(), err)
		return
	}
	if kind == protocol.KindHello || g.cfg.Known == nil || g.cfg.Known(nodeID) {
		g.mu.Lock()
		g.nodeSite[nodeID] = site
		g.mu.Unlock()
	}
	g.cfg.Handle(in)
}

func (g *Gateway) drop(topic string, why error) {
	n := g.malformed.Add(1)
	g.extra.drop(why)
	// Log the first few and then every thousandth, so a flood cannot fill the disk.
	if n <= 10 || n%1000 == 0 {
		g.log.Warn("dropped malformed MQTT message", "topic", topic, "reason", why.Error(), "dropped_total", n)
	}
}

// Counters returns the message counters.
func (g *Gateway) Counters() Counters {
	return Counters{Received: g.received.Load(), Malformed: g.malformed.Load(), Published: g.published.Load()}
}

// PublishDesired publishes a node's desired state, retained, on the broker
// the node was last heard through (on every broker if it was never heard).
func (g *Gateway) PublishDesired(nodeID string, d *protocol.Desired) error {
	d, err := g.signedDesired(d)
	if err != nil {
		return err
	}
	b, err := protocol.Encode(d)
	if err != nil {
		return fmt.Errorf("gateway: encode desired for %s: %w", nodeID, err)
	}
	return g.publishDesired(nodeID, "", d.Index, b)
}

// PublishDesiredAt is PublishDesired for a node of datacenter dc: until the
// node is heard, it goes to dc's site broker (and the shared ones), not to
// every broker.
func (g *Gateway) PublishDesiredAt(nodeID, dc string, d *protocol.Desired) error {
	d, err := g.signedDesired(d)
	if err != nil {
		return err
	}
	b, err := protocol.Encode(d)
	if err != nil {
		return fmt.Errorf("gateway: encode desired for %s: %w", nodeID, err)
	}
	return g.publishDesired(nodeID, dc, d.Index, b)
}

// publishDesired publishes a node's encoded desired state and, with
// DesiredAcked set, queues it for the acknowledgements: never waiting, so
// a broker slow to acknowledge cannot hold up publishing; past 8,192
// outstanding it is not tracked.
func (g *Gateway) publishDesired(nodeID, dc string, index uint64, b []byte) error {
	topic := g.topics.Desired(nodeID)
	a := pendingAck{node: nodeID, index: index}
	var errs []error
	for _, i := range g.route(nodeID, dc) {
		tok, err := g.publishTok(g.clients[i], topic, 1, true, b)
		errs = append(errs, err)
		if tok != nil {
			a.toks = append(a.toks, tok)
		}
	}
	if err := errors.Join(errs...); err != nil || g.acks == nil || len(a.toks) == 0 {
		return err // withheld everywhere: the reconnect publishes it again
	}
	select {
	case g.acks <- a:
	default:
	}
	return nil
}

// PublishAck acknowledges a node's updates up to seq.
func (g *Gateway) PublishAck(nodeID string, seq uint64) error {
	return g.PublishAckMsg(nodeID, &protocol.Ack{V: protocol.Version, Seq: seq})
}

// PublishAckMsg sends an Ack message to a node.
func (g *Gateway) PublishAckMsg(nodeID string, a *protocol.Ack) error {
	b, err := protocol.Encode(a)
	if err != nil {
		return err
	}
	return g.publishNode(nodeID, "", g.topics.Ack(nodeID), 1, false, b)
}

func (g *Gateway) publishNode(nodeID, dc, topic string, qos byte, retain bool, b []byte) error {
	var errs []error
	for _, i := range g.route(nodeID, dc) {
		errs = append(errs, g.publish(g.clients[i], topic, qos, retain, b))
	}
	return errors.Join(errs...)
}

// heardThrough is the index of the broker a node was last heard through
// (the first broker when it has not been heard yet): where a request
// to it and the subscription to its reply go.
func (g *Gateway) heardThrough(nodeID string) int {
	g.mu.Lock()
	site, known := g.nodeSite[nodeID]
	g.mu.Unlock()
	if !known || site >= len(g.clients) {
		return 0
	}
	return site
}

// route picks the brokers a message to a node goes to: the one it was last
// heard through (with MirrorShared, every shared broker if that is one);
// else its datacenter's site and the shared brokers; else every broker.
func (g *Gateway) route(nodeID, dc string) []int {
	g.mu.Lock()
	site, known := g.nodeSite[nodeID]
	g.mu.Unlock()
	var out []int
	if known && site < len(g.clients) {
		if !g.cfg.MirrorShared || g.sites[site].Name != "" {
			return []int{site}
		}
		for i, st := range g.sites {
			if st.Name == "" {
				out = append(out, i)
			}
		}
		return out
	}
	named := false
	for i, st := range g.sites {
		if dc != "" && st.Name == dc {
			named = true
		}
		if st.Name == "" || (dc != "" && st.Name == dc) {
			out = append(out, i)
		}
	}
	if named || (dc != "" && len(out) > 0) {
		return out
	}
	out = out[:0]
	for i := range g.clients {
		out = append(out, i)
	}
	return out
}

// publish hands a message to the client. QoS 1 messages published while the
// connection is down are queued by the client and sent on reconnect (except
// retained ones, which the reconnect publishes again), so this does not wait
// for the broker's acknowledgement.
//
// A message too large for the broker is refused here: the embedded broker
// disconnects a client that sends a packet over its maximum packet size
// (protocol.MaxMessageSize), and central's persistent session would resend
// it after every reconnect, cutting central off from its agents for good.
func (g *Gateway) publish(c paho.Client, topic string, qos byte, retain bool, b []byte) error {
	_, err := g.publishTok(c, topic, qos, retain, b)
	return err
}

// publishTok is publish, also returning the client's token for a message
// handed to it (nil when refused or withheld).
func (g *Gateway) publishTok(c paho.Client, topic string, qos byte, retain bool, b []byte) (paho.Token, error) {
	if n := len(b) + len(topic) + packetOverhead; n > protocol.MaxMessageSize {
		g.extra.refusedOut.Add(1)
		g.log.Error("refused to publish a message too large for the broker", "topic", topic, "bytes", len(b))
		return nil, fmt.Errorf("gateway: publish %s: %w: %d bytes with the topic and MQTT header (limit %d); make the job's templates or environment smaller",
			topic, protocol.ErrTooLarge, n, protocol.MaxMessageSize)
	}
	if retain && len(b) > 0 && !c.IsConnectionOpen() && c.IsConnected() { // down, and reconnecting (not closed)
		// Withheld, not queued: the next connection publishes every
		// desired state and service set again (Reconnected), so queuing
		// each change in the client's memory for a site broker that may
		// be away for days would only grow and be sent twice. A clear
		// (empty payload) is queued: nothing would send it again.
		for i, cl := range g.clients {
			if cl == c {
				g.withheld[i].Store(true)
			}
		}
		if !c.IsConnectionOpen() {
			g.extra.withheld.Add(1)
			return nil, nil
		}
		// Connected meanwhile: its OnConnect may have looked before the
		// mark, so send this one now.
	}
	tok := c.Publish(topic, qos, retain, b)
	g.published.Add(1)
	// A publish the client refused at once (not connected) has a token that
	// is done already; one in flight is not waited for. (tok.WaitTimeout(0)
	// races an expired timer against the done channel: it dropped the
	// error about half the time.)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("gateway: publish %s: %w", topic, err)
		}
	default:
	}
	return tok, nil
}

// ForgetNodes drops the broker remembered for every node for which keep
// is false (the leader calls it for nodes the state store no longer
// holds) and returns how many it dropped.
func (g *Gateway) ForgetNodes(keep func(nodeID string) bool) int {
	g.mu.Lock()
	ids := make([]string, 0, len(g.nodeSite))
	for id := range g.nodeSite {
		ids = append(ids, id)
	}
	g.mu.Unlock()
	var drop []string
	for _, id := range ids { // keep may be slow: not under the lock
		if !keep(id) {
			drop = append(drop, id)
		}
	}
	g.mu.Lock()
	for _, id := range drop {
		delete(g.nodeSite, id)
	}
	g.mu.Unlock()
	return len(drop)
}

// NodeSites is how many nodes the gateway remembers a broker for.
func (g *Gateway) NodeSites() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.nodeSite)
}

// Connected reports whether every broker connection is up.
func (g *Gateway) Connected() bool {
	for _, c := range g.clients {
		if !c.IsConnectionOpen() {
			return false
		}
	}
	return len(g.clients) > 0
}

// Close disconnects from every broker.
func (g *Gateway) Close() {
	g.closeOnce.Do(func() { close(g.closed) })
	for _, c := range g.clients {
		c.Disconnect(250)
	}
}

func waitToken(ctx context.Context, tok paho.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
