package broker

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/protocol"
)

// Authority tells the broker who a client is. Start with a nil Authority
// lets every client in (the default); with one, the broker refuses
// anonymous and unknown clients and enforces NodeRules.
type Authority interface {
	// Login checks a CONNECT's username and password. It returns whether
	// they are valid and whether the client is central's own.
	Login(username, password string) (ok, central bool)
	// Known reports whether username still has credentials (a revoked
	// node loses every right at once, connected or not).
	Known(username string) (ok, central bool)
}

// Mosquitto's password_file hash ($7$, PBKDF2-SHA512), so one stored hash
// serves the embedded broker and an exported password_file.
const (
	pwIterations = 101
	pwSaltLen    = 12
	pwHashLen    = 64
)

// HashPassword hashes pw in Mosquitto 2.0's password_file format:
// $7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, pwSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum, err := pbkdf2.Key(sha512.New, pw, salt, pwIterations, pwHashLen)
	if err != nil {
		return "", err
	}
	return "$7$" + strconv.Itoa(pwIterations) + "$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(sum), nil
}

// CheckPassword reports whether pw matches a HashPassword hash. Malformed
// hashes never match.
func CheckPassword(hash, pw string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "7" {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > 1_000_000 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[3])
	want, err2 := base64.StdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got, err := pbkdf2.Key(sha512.New, pw, salt, iter, len(want))
	return err == nil && hmac.Equal(got, want)
}

// NodeRules are the topics one node's client may use (the same rules are
// exported for Mosquitto by MosquittoACL): publish its hello, hb, up and
// online topics and replies to log and stats requests and exec sessions;
// subscribe to its desired, ack, logs, exec and stats topics and to every
// service.
type NodeRules struct {
	Topics protocol.Topics
	NodeID string
}

// Publish lists the exact topics the node may publish on; LogsReply
// (<p>/node/<id>/logs/<request>), StatsReply (<p>/node/<id>/stats/<request>)
// and ExecOut (<p>/node/<id>/exec/<session>/out) are allowed besides.
func (r NodeRules) Publish() []string {
	t := r.Topics
	return []string{t.Hello(r.NodeID), t.Heartbeat(r.NodeID), t.Up(r.NodeID), t.Online(r.NodeID)}
}

// Subscribe lists the exact filters the node may subscribe to; filters
// under ServicePrefix are allowed besides.
func (r NodeRules) Subscribe() []string {
	t := r.Topics
	return []string{t.Desired(r.NodeID), t.Ack(r.NodeID), t.Logs(r.NodeID), t.Exec(r.NodeID), t.ExecIn(r.NodeID, "+"), t.Stats(r.NodeID)}
}

// ServicePrefix is the prefix of the service topics every node may read.
func (r NodeRules) ServicePrefix() string { return r.Topics.Service("") }

// Allows reports whether the node may publish (write) or subscribe to topic.
func (r NodeRules) Allows(topic string, write bool) bool {
	if write {
		for _, p := range r.Publish() {
			if topic == p {
				return true
			}
		}
		if node, req, ok := r.Topics.ParseLogs(topic); ok && node == r.NodeID && req != "" {
			return true
		}
		if node, req, ok := r.Topics.ParseStats(topic); ok && node == r.NodeID && req != "" {
			return true // replies to its own stats requests (node/<id>/stats/<request>)
		}
		// replies of its own exec sessions (node/<id>/exec/<session>/out)
		node, session, dir, ok := r.Topics.ParseExec(topic)
		return ok && node == r.NodeID && session != "" && dir == "out"
	}
	for _, s := range r.Subscribe() {
		if topic == s {
			return true
		}
	}
	return strings.HasPrefix(topic, r.ServicePrefix()) && len(topic) > len(r.ServicePrefix())
}

// authHook is the mochi hook enforcing an Authority: usernames are node
// ids (or central's own username).
type authHook struct {
	mqtt.HookBase
	auth   Authority
	topics protocol.Topics
	count  *counters
}

func (h *authHook) ID() string { return "tether-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck}, []byte{b})
}

// OnConnectAuthenticate admits a CONNECT only with a valid login, the
// client ID that login owns (ClientIDAllowed), and a Will, if any, on a
// topic the login may publish to: mochi publishes a Will without asking
// OnACLCheck, so it is checked here, once, like every publish would be.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pw := string(pk.Connect.Username), string(pk.Connect.Password) // "": anonymous, refused
	ok, central := false, false
	if user != "" {
		ok, central = h.auth.Login(user, pw)
	}
	switch {
	case !ok:
	case !ClientIDAllowed(user, central, cl.ID):
		h.count.badClientID.Add(1)
		ok = false
	case pk.Connect.WillFlag && !central && !(NodeRules{Topics: h.topics, NodeID: user}).Allows(pk.Connect.WillTopic, true):
		h.count.badWill.Add(1)
		ok = false
	}
	if !ok {
		h.count.refused.Add(1)
	}
	return ok
}

// ClientIDAllowed reports whether a client logged in as user may use
// clientID. A node's client ID is its username (the node id), so no login
// can take over another's session (MQTT disconnects the older client of
// an ID). Central's login may add "-<suffix>" to its username: its gateway
// names one client per broker that way. Mosquitto gets the same rule from
// use_username_as_clientid (docs/security.md).
func ClientIDAllowed(user string, central bool, clientID string) bool {
	if clientID == user {
		return true
	}
	return central && strings.HasPrefix(clientID, user+"-") && len(clientID) > len(user)+1
}

func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	ok, central := h.auth.Known(user)
	switch {
	case !ok:
	case central:
		return true
	case NodeRules{Topics: h.topics, NodeID: user}.Allows(topic, write):
		return true
	}
	h.count.denied.Add(1)
	return false
}

// Counters are the embedded broker's refusals, for /v1/metrics.
type Counters struct {
	// RefusedConnects counts CONNECTs refused for a missing or wrong
	// login, a client ID the login does not own or a Will on a topic the
	// login may not publish to (only with an Authority: without one every
	// CONNECT is accepted).
	RefusedConnects uint64
	// RefusedClientIDs and RefusedWills count the refusals for a client ID
	// and for a Will topic (included in RefusedConnects).
	RefusedClientIDs, RefusedWills uint64
	// DeniedTopics counts publishes and subscribes the topic ACL refused.
	DeniedTopics uint64
	// TooLarge counts clients cut off for sending a packet over the
	// broker's maximum packet size.
	TooLarge uint64
	// OverLimit counts connections closed at once because the broker had
	// MaxConnections open (listener.go).
	OverLimit uint64
	// AcceptErrors counts failed accepts (EMFILE...), each retried after
	// a backoff.
	AcceptErrors uint64
}

// counters is the live form of Counters, shared by the broker's hooks.
type counters struct {
	refused, badClientID, badWill, denied, tooLarge atomic.Uint64
	overLimit, acceptErrors                         atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{RefusedConnects: c.refused.Load(), RefusedClientIDs: c.badClientID.Load(), RefusedWills: c.badWill.Load(),
		DeniedTopics: c.denied.Load(), TooLarge: c.tooLarge.Load(), OverLimit: c.overLimit.Load(), AcceptErrors: c.acceptErrors.Load()}
}

// countHook counts the clients the broker cuts off for an oversized packet.
// mochi drops them before any other hook sees the packet.
type countHook struct {
	mqtt.HookBase
	c *counters
}

func (h *countHook) ID() string { return "tether-count" }

func (h *countHook) Provides(b byte) bool { return b == mqtt.OnDisconnect }

func (h *countHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.c.tooLarge.Add(1)
	}
}
