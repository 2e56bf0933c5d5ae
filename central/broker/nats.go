package broker

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-edge/tether/protocol"
)

// NATSBcryptCost is the bcrypt cost of the password hashes exported for
// NATS server, which has no PBKDF2: the lowest, since the passwords are
// random 192-bit secrets (a slow hash only protects guessable ones) and
// NATS checks the hash on every CONNECT: 2.5 ms at cost 4 and 243 ms at
// bcrypt's default cost (10) on a loaded 2-core machine, i.e. 25 s or 40
// minutes of broker CPU for a reconnect storm of 10,000 agents.
const NATSBcryptCost = bcrypt.MinCost

// NATSHashPassword hashes pw for NATS server's authorization block ($2a$).
func NATSHashPassword(pw string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), NATSBcryptCost)
	return string(h), err
}

// NATSUser is one login for NATS server's authorization block.
type NATSUser struct {
	Username     string
	PasswordHash string // NATSHashPassword format
	NodeID       string // "" for central's own user (full access)
}

// NATSSubject turns an MQTT topic or filter into the NATS subject NATS
// server's MQTT listener uses for it: levels become tokens, + becomes *
// and # becomes >. A level NATS cannot map is refused: its MQTT listener
// disconnects a client that uses '.' or ' ' in a topic ("characters ' '
// and '.' not supported for MQTT topics", nats-server 2.9), and '*' and
// '>' would be wildcards in a permission.
func NATSSubject(filter string) (string, error) {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		switch {
		case l == "+":
			levels[i] = "*"
		case l == "#" && i == len(levels)-1:
			levels[i] = ">"
		case l == "" || strings.ContainsAny(l, ". *>+#\"\\\t\r\n"):
			return "", fmt.Errorf("topic %q: level %q cannot be used with NATS (no '.', ' ', '*', '>' or empty levels)", filter, l)
		}
	}
	return strings.Join(levels, "."), nil
}

// NATSNodeFilters lists the MQTT filters a node may publish and subscribe
// to: NodeRules, as the acl_file MosquittoFiles writes.
func NATSNodeFilters(topics protocol.Topics, nodeID string) (pub, sub []string) {
	r := NodeRules{Topics: topics, NodeID: nodeID}
	pub = append(r.Publish(), topics.Logs(nodeID)+"/+", topics.Stats(nodeID)+"/+", topics.ExecOut(nodeID, "+"))
	sub = append(r.Subscribe(), r.ServicePrefix()+"#")
	return pub, sub
}

// natsMQTTDelivery is the subject prefix NATS server delivers QoS 1
// messages to an MQTT subscription on ($MQTT.sub.<id>): a user without
// subscribe permission on it gets a SUBACK failure for every QoS 1
// subscription. MQTT clients cannot subscribe to $MQTT topics themselves
// (SUBACK 0x80), and NATSAuth lets tether's users connect over MQTT only,
// so no login can read another session's deliveries through it.
const natsMQTTDelivery = "$MQTT.sub.>"

// NATSAuth renders an authorization block for nats-server.conf that gives
// NATS's MQTT listener the embedded broker's rules (NodeRules): central's
// user reads and writes everything, each node only its own topics, nobody
// else anything. Every user may connect over MQTT only
// (allowed_connection_types), and every user has explicit permissions:
// nats-server 2.9.10 crashes on a configuration reload (SIGHUP) when a
// user without permissions has published a retained message.
func NATSAuth(topics protocol.Topics, users []NATSUser) (string, error) {
	if _, err := NATSSubject(topics.Service("x")); err != nil {
		return "", fmt.Errorf("nats export: topic prefix %q: %w", topics.Prefix, err)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	var b strings.Builder
	b.WriteString("# Written by `central mqtt export-auth -format nats`; do not edit: re-export instead.\n")
	b.WriteString("# Include it in every node's nats-server.conf (include \"tether-auth.conf\"), next to an\n")
	b.WriteString("# mqtt block with stream_replicas: 3 (docs/nats.md).\n")
	b.WriteString("authorization {\n  users: [\n")
	for _, u := range users {
		if u.Username == "" || strings.ContainsAny(u.Username, "\"\\\n\r\t ") {
			return "", fmt.Errorf("nats export: user %q cannot be written to a NATS configuration", u.Username)
		}
		if !strings.HasPrefix(u.PasswordHash, "$2a$") || strings.ContainsAny(u.PasswordHash, "\"\\\n\r\t ") {
			return "", fmt.Errorf("nats export: user %q has no bcrypt password hash", u.Username)
		}
		fmt.Fprintf(&b, "    { user: %q, password: %q, allowed_connection_types: [\"MQTT\"], permissions: {\n", u.Username, u.PasswordHash)
		if u.NodeID == "" {
			b.WriteString("        publish: { allow: [\">\"] }, subscribe: { allow: [\">\"] } } }\n")
			continue
		}
		if !protocol.ValidID(u.NodeID) {
			return "", fmt.Errorf("nats export: node id %q cannot be used in a topic", u.NodeID)
		}
		pubF, subF := NATSNodeFilters(topics, u.NodeID)
		pub, err := natsSubjects(pubF)
		if err != nil {
			return "", fmt.Errorf("nats export: node %s: %w: give the node an id without them (delete its node-id file and enrol it again)", u.NodeID, err)
		}
		sub, err := natsSubjects(subF)
		if err != nil {
			return "", fmt.Errorf("nats export: node %s: %w", u.NodeID, err)
		}
		fmt.Fprintf(&b, "        publish: { allow: [%s] }\n", quoteList(pub))
		fmt.Fprintf(&b, "        subscribe: { allow: [%s] } } }\n", quoteList(append([]string{natsMQTTDelivery}, sub...)))
	}
	b.WriteString("  ]\n}\n")
	return b.String(), nil
}

func natsSubjects(filters []string) ([]string, error) {
	out := make([]string, 0, len(filters))
	for _, f := range filters {
		s, err := NATSSubject(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
