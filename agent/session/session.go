package session

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Defaults.
const (
	DefaultMaxReconnect  = 30 * time.Second
	DefaultRetryInterval = 2 * time.Second
	// DefaultKeepAlive is long on purpose: liveness is central's job (it
	// watches heartbeats), and each MQTT ping costs ~160 bytes at the IP
	// level. At 120 s an idle agent stays under 0.9 KB/min (bench/README.md).
	DefaultKeepAlive = 120 * time.Second
)

// Kind is the kind of an Event.
type Kind int

// Event kinds.
const (
	Connected Kind = iota + 1
	Lost
	Message
)

// Event is what the Session reports to its owner.
type Event struct {
	Kind    Kind
	Topic   string // Message
	Payload []byte // Message
	Err     error  // Lost
}

// ClientID is the MQTT client ID of node nodeID's session: its login's
// username when it has one, since brokers that check logins tie client IDs
// to usernames (the embedded broker refuses any other; Mosquitto replaces
// it with use_username_as_clientid), else tether-agent-<node id>.
func ClientID(username, nodeID string) string {
	if username != "" {
		return username
	}
	return "tether-agent-" + nodeID
}

// Options configure a Session.
type Options struct {
	Brokers  []string
	ClientID string // see ClientID
	// Will is published by the broker (retained, QoS 1) when the agent
	// vanishes without disconnecting.
	WillTopic   string
	WillPayload []byte
	// RetryInterval between attempts of the first connection; before each
	// reconnect attempt the session waits a random time under a ceiling
	// that doubles from ReconnectBase (1s) up to MaxReconnect (default
	// 30s) (backoff.go).
	RetryInterval time.Duration
	MaxReconnect  time.Duration
	KeepAlive     time.Duration
	Username      string
	Password      string
	// TLS is used for brokers with a TLS scheme (ssl://, tls://, mqtts://,
	// wss://); nil: the system roots and no client certificate.
	TLS    *tls.Config
	Logger *slog.Logger

	randN func(int64) int64 // the backoff's random source; nil: math/rand/v2 (tests inject one)
}

// Session is the agent's MQTT connection.
type Session struct {
	client mqtt.Client
	events chan<- Event
	log    *slog.Logger

	closeOnce sync.Once
	closed    chan struct{}
	limit     sizeLimit // limit.go

	maxReconnect time.Duration // the longest wait before asking again for a refused subscription
	backoff      *backoff      // the wait before each reconnect attempt
	refusedSubs  atomic.Uint64
}

// New builds a Session that reports to events. Nothing connects until Connect.
func New(o Options, events chan<- Event) *Session {
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.MaxReconnect <= 0 {
		o.MaxReconnect = DefaultMaxReconnect
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = DefaultKeepAlive
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Session{events: events, log: o.Logger, closed: make(chan struct{}), maxReconnect: o.MaxReconnect,
		backoff: newBackoff(ReconnectBase, o.MaxReconnect, o.randN)}
	opts := mqtt.NewClientOptions()
	for _, b := range o.Brokers {
		opts.AddBroker(b)
	}
	opts.SetClientID(o.ClientID).
		SetCleanSession(false).
		SetResumeSubs(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(o.RetryInterval).
		// paho's own reconnect backoff (1 s doubling, the same for every
		// client: no jitter) is cut to nothing; the jittered one is waited
		// in the reconnecting handler, before each attempt.
		SetMaxReconnectInterval(time.Millisecond).
		SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
			s.wait(s.backoff.next(time.Now()))
		}).
		SetKeepAlive(o.KeepAlive).
		// MQTT 3.1.1 only: paho otherwise answers any refused handshake
		// by trying MQTT 3.1 at once on the same broker (twice the
		// handshakes on a broker that is refusing because it is busy, as
		// a NATS cluster electing stream leaders does), and keeps 3.1 for
		// good if that one is accepted.
		SetProtocolVersion(4).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetOrderMatters(true).
		SetStore(nullStore{}).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			s.send(Event{Kind: Message, Topic: m.Topic(), Payload: m.Payload()})
		}).
		SetOnConnectHandler(func(mqtt.Client) {
			s.backoff.connected(time.Now())
			s.log.Info("connected to broker")
			s.send(Event{Kind: Connected})
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.log.Warn("lost connection to broker; reconnecting", "err", err)
			s.send(Event{Kind: Lost, Err: err})
		})
	if o.TLS != nil {
		opts.SetTLSConfig(o.TLS)
	}
	// A failed attempt (a TLS or login error, a broker down) is logged
	// when its reason changes, not at every retry.
	var failMu sync.Mutex // guards lastFail
	var lastFail string
	opts.SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
		failMu.Lock()
		defer failMu.Unlock()
		switch n := n.(type) {
		case mqtt.ConnectionNotificationFailed: // every broker was tried
			if msg := n.Reason.Error(); msg != lastFail {
				lastFail = msg
				s.log.Warn("cannot connect to the broker; retrying", "err", msg)
			}
		case mqtt.ConnectionNotificationConnected:
			lastFail = ""
		}
	})
	if o.Username != "" {
		opts.SetUsername(o.Username).SetPassword(o.Password)
	}
	if o.WillTopic != "" {
		opts.SetBinaryWill(o.WillTopic, o.WillPayload, 1, true)
	}
	s.client = mqtt.NewClient(opts)
	return s
}

// send hands an event to the owner, or drops it once the Session is closed.
func (s *Session) send(ev Event) {
	select {
	case s.events <- ev:
	case <-s.closed:
	}
}

// Connect starts connecting in the background; paho keeps retrying.
func (s *Session) Connect() {
	s.client.Connect() // with ConnectRetry the token completes only on success or Disconnect
}

// Connected reports whether the client is connected now.
func (s *Session) Connected() bool { return s.client.IsConnectionOpen() }

// Publish sends a message without waiting for the broker's ack. While the
// connection is down it drops the message instead of letting paho queue it
// in memory: the agent's outbox resends what matters on reconnect.
func (s *Session) Publish(topic string, qos byte, retained bool, payload []byte) {
	if !s.client.IsConnectionOpen() || s.limit.refuse(s.log, topic, payload) != nil {
		return
	}
	s.client.Publish(topic, qos, retained, payload)
}

// PublishWait publishes and waits up to timeout for the broker's ack.
func (s *Session) PublishWait(topic string, qos byte, retained bool, payload []byte, timeout time.Duration) error {
	if err := s.limit.refuse(s.log, topic, payload); err != nil {
		return err
	}
	tok := s.client.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(timeout) {
		return fmt.Errorf("publish to %s: no ack from the broker within %s", topic, timeout)
	}
	return tok.Error()
}

// Subscribe subscribes to filters (topic → QoS); messages arrive as events.
// It does not wait for the broker's answer.
//
// Filters the broker refuses (SUBACK 0x80) are asked for again, after 1 s
// and then twice as long each time up to MaxReconnect, while the connection
// lasts (the next connection subscribes to everything anyway): a clustered
// broker refuses subscriptions while it elects new leaders for the streams
// a dead node led (NATS: "Unable to add JetStream consumer ... timeout"),
// and without a retry the agent would hear nothing until it reconnects.
func (s *Session) Subscribe(filters map[string]byte) {
	go s.subscribe(filters, time.Second)
}

func (s *Session) subscribe(filters map[string]byte, wait time.Duration) {
	tok := s.client.SubscribeMultiple(filters, nil)
	select {
	case <-tok.Done():
	case <-s.closed:
		return
	}
	if err := tok.Error(); err != nil {
		s.log.Warn("subscribe failed", "err", err)
		return
	}
	refused := map[string]byte{}
	var names []string
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == subackFailure {
				refused[f] = filters[f]
				names = append(names, f)
			}
		}
	}
	if len(refused) == 0 {
		return
	}
	s.refusedSubs.Add(1)
	s.log.Warn("the broker refused subscriptions; asking again", "filters", names, "in", wait)
	select {
	case <-time.After(wait):
	case <-s.closed:
		return
	}
	if !s.client.IsConnectionOpen() {
		return
	}
	s.subscribe(refused, min(2*wait, s.maxReconnect))
}

// subackFailure is the SUBACK return code of a refused subscription.
const subackFailure = 0x80

// RefusedSubscribes counts the SUBACKs that refused a filter (each retried).
func (s *Session) RefusedSubscribes() uint64 { return s.refusedSubs.Load() }

// Close disconnects (after up to quiesce for in-flight work) without
// publishing the will. Events are no longer delivered.
func (s *Session) Close(quiesce time.Duration) {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.client.Disconnect(uint(quiesce / time.Millisecond))
	})
}
