package broker

import (
	"strings"
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

// Mosquitto's acl_file carries the same exec rules.
func TestMosquittoExecRules(t *testing.T) {
	tp := protocol.Topics{}
	_, acl, err := MosquittoFiles(tp, []MosquittoUser{{Username: "n1", NodeID: "n1", PasswordHash: "$7$x"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"topic read " + tp.Exec("n1") + "\n", "topic read " + tp.ExecIn("n1", "+") + "\n", "topic write " + tp.ExecOut("n1", "+") + "\n"} {
		if !strings.Contains(acl, want) {
			t.Errorf("acl_file lacks %q:\n%s", want, acl)
		}
	}
	if strings.Contains(acl, "topic write "+tp.Exec("n1")+"\n") || strings.Contains(acl, "topic write "+tp.ExecIn("n1", "+")) {
		t.Errorf("acl_file lets a node write central's exec topics:\n%s", acl)
	}
}
