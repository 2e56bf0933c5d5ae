package broker

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tether-edge/tether/protocol"
)

func TestNATSSubject(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"tether/v1/node/n1/hello", "tether.v1.node.n1.hello", ""},
		{"tether/v1/node/+/hb", "tether.v1.node.*.hb", ""},
		{"tether/v1/svc/#", "tether.v1.svc.>", ""},
		{"tether/v1/node/pi.lab/hello", "", `level "pi.lab"`},
		{"tether/v1/node/a b/hello", "", `level "a b"`},
		{"tether/v1/node/a*/hello", "", `level "a*"`},
		{"tether/v1/node/a>/hello", "", `level "a>"`},
		{"/tether/v1", "", `level ""`},
		{"tether/#/x", "", `level "#"`},
	} {
		got, err := NATSSubject(c.in)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NATSSubject(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}

// TestNATSAuthMatchesMosquitto: the NATS export gives each node exactly the
// topics the Mosquitto acl_file gives it (converted to subjects), plus the
// delivery subject of NATS's MQTT QoS 1 subscriptions; central gets
// everything; every user connects over MQTT only and has a bcrypt hash.
func TestNATSAuthMatchesMosquitto(t *testing.T) {
	topics := protocol.Topics{}
	const node = "0b7c0f4e-1f6e-4d2a-9d39-6f0b1c2d3e4f"
	natsHash, err := NATSHashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword([]byte(natsHash), []byte("secret")) != nil {
		t.Fatal("the bcrypt hash does not match its password")
	}
	conf, err := NATSAuth(topics, []NATSUser{{Username: node, PasswordHash: natsHash, NodeID: node}, {Username: "tether-central", PasswordHash: natsHash}})
	if err != nil {
		t.Fatal(err)
	}
	mosqHash, _ := HashPassword("secret")
	_, acl, err := MosquittoFiles(topics, []MosquittoUser{{Username: node, PasswordHash: mosqHash, NodeID: node}})
	if err != nil {
		t.Fatal(err)
	}
	var wantPub, wantSub []string
	for _, line := range strings.Split(acl, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "topic" {
			continue
		}
		s, err := NATSSubject(f[2])
		if err != nil {
			t.Fatal(err)
		}
		switch f[1] {
		case "write":
			wantPub = append(wantPub, s)
		case "read":
			wantSub = append(wantSub, s)
		default:
			t.Fatalf("acl_file line %q", line)
		}
	}
	wantSub = append(wantSub, natsMQTTDelivery)
	m := regexp.MustCompile(`user: "` + node + `", password: "([^"]+)", allowed_connection_types: \["MQTT"\], permissions: \{\n\s+publish: \{ allow: \[([^\]]*)\] \}\n\s+subscribe: \{ allow: \[([^\]]*)\] \} \} \}`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("no permissions for the node in:\n%s", conf)
	}
	list := func(s string) []string {
		var out []string
		for _, q := range strings.Split(s, ", ") {
			out = append(out, strings.Trim(q, `"`))
		}
		slices.Sort(out)
		return out
	}
	slices.Sort(wantPub)
	slices.Sort(wantSub)
	if got := list(m[2]); !slices.Equal(got, wantPub) {
		t.Errorf("publish %q, want %q", got, wantPub)
	}
	if got := list(m[3]); !slices.Equal(got, wantSub) {
		t.Errorf("subscribe %q, want %q", got, wantSub)
	}
	if m[1] != natsHash {
		t.Errorf("password %q, want the bcrypt hash", m[1])
	}
	if !strings.Contains(conf, `{ user: "tether-central", password: "`+natsHash+`", allowed_connection_types: ["MQTT"], permissions: {
        publish: { allow: [">"] }, subscribe: { allow: [">"] } } }`) {
		t.Errorf("central's user is not given everything explicitly:\n%s", conf)
	}
}

func TestNATSAuthRefuses(t *testing.T) {
	h, _ := NATSHashPassword("secret")
	mosq, _ := HashPassword("secret")
	for _, c := range []struct {
		topics protocol.Topics
		user   NATSUser
		want   string
	}{
		{protocol.Topics{}, NATSUser{Username: "pi.lab", PasswordHash: h, NodeID: "pi.lab"}, `level "pi.lab" cannot be used with NATS`},
		{protocol.Topics{}, NATSUser{Username: "n1", PasswordHash: mosq, NodeID: "n1"}, "no bcrypt password hash"},
		{protocol.Topics{}, NATSUser{Username: `a"b`, PasswordHash: h, NodeID: "ab"}, "cannot be written"},
		{protocol.Topics{Prefix: "acme.io/tether"}, NATSUser{Username: "n1", PasswordHash: h, NodeID: "n1"}, `topic prefix "acme.io/tether"`},
	} {
		if _, err := NATSAuth(c.topics, []NATSUser{c.user}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.user, err, c.want)
		}
	}
}
