package broker

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// A node reads its own stats requests and answers only on its own reply
// topics; the Mosquitto export says the same.
func TestNodeRulesStats(t *testing.T) {
	tp := protocol.Topics{}
	r := NodeRules{Topics: tp, NodeID: "n1"}
	for _, tt := range []struct {
		topic string
		write bool
		want  bool
	}{
		{tp.Stats("n1"), false, true},
		{tp.Stats("n2"), false, false},
		{tp.StatsReply("n1", "r1"), true, true},
		{tp.StatsReply("n2", "r1"), true, false}, // another node's reply: a forged answer
		{tp.Stats("n1"), true, false},            // requests come from central only
		{tp.StatsReply("n1", "+"), false, false},
	} {
		if got := r.Allows(tt.topic, tt.write); got != tt.want {
			t.Errorf("Allows(%q, write=%v) = %v, want %v", tt.topic, tt.write, got, tt.want)
		}
	}
	_, acl, err := MosquittoFiles(tp, []MosquittoUser{{Username: "n1", NodeID: "n1", PasswordHash: "$7$x"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"topic write " + tp.Stats("n1") + "/+\n", "topic read " + tp.Stats("n1") + "\n"} {
		if !strings.Contains(acl, want) {
			t.Errorf("Mosquitto ACL lacks %q:\n%s", want, acl)
		}
	}
}
