package broker

import (
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// A node may read its own exec requests and session input, and write only
// its own sessions' output: never another node's, never central's side.
func TestNodeRulesExec(t *testing.T) {
	tp := protocol.Topics{}
	r := NodeRules{Topics: tp, NodeID: "n1"}
	for _, c := range []struct {
		topic string
		write bool
		want  bool
	}{
		{tp.Exec("n1"), false, true},
		{tp.ExecIn("n1", "+"), false, true},
		{tp.ExecOut("n1", "s1"), true, true},
		{tp.Exec("n1"), true, false},             // publish a request to itself
		{tp.ExecIn("n1", "s1"), true, false},     // forge central's input
		{tp.ExecOut("n1", "+"), false, false},    // read its own output back
		{tp.Exec("n2"), false, false},            // another node's requests
		{tp.ExecIn("n2", "+"), false, false},     // another node's input
		{tp.ExecOut("n2", "s1"), true, false},    // another node's output
		{tp.ExecOut("n1", "+"), true, false},     // a wildcard is no session
		{tp.Exec("n1") + "/s1/err", true, false}, // no such direction
	} {
		if got := r.Allows(c.topic, c.write); got != c.want {
			t.Errorf("Allows(%q, write=%v) = %v, want %v", c.topic, c.write, got, c.want)
		}
	}
}
