package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

// TestNodeNamesUniqueAmongLiveNodes: two agents that both call themselves
// agentA cannot both be registered while the first is not down, even in
// one command (two hellos in one batch); the first keeps its name, and a
// down node gives it up.
func TestNodeNamesUniqueAmongLiveNodes(t *testing.T) {
	h := newHarness(t)
	named := func(id, name string) *structs.Node {
		n := testNode(id)
		n.Name = name
		return n
	}
	h.mustApply(nodeOp(named("n1", "agentA")))

	res := h.apply(nodeOp(named("n2", "agentA")))
	if !errors.Is(res.Err, ErrNameTaken) || !strings.Contains(res.Err.Error(), "n1") || !strings.Contains(res.Err.Error(), "-name") {
		t.Fatalf("second agentA: %v, want ErrNameTaken naming n1 and the fix", res.Err)
	}
	if h.store.NodeByID("n2") != nil {
		t.Fatal("n2 was registered")
	}
	// Two in one command: the second is refused.
	res = h.apply(nodeOp(named("n3", "agentB")), nodeOp(named("n4", "agentB")))
	if !errors.Is(res.Err, ErrNameTaken) || h.store.NodeByID("n3") == nil || h.store.NodeByID("n4") != nil {
		t.Fatalf("same command: %v; n3 %v n4 %v", res.Err, h.store.NodeByID("n3"), h.store.NodeByID("n4"))
	}
	// The holder re-registers freely; a disconnected holder keeps its name.
	h.mustApply(nodeOp(named("n1", "agentA")))
	h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: structs.NodeDisconnected}})
	if res := h.apply(nodeOp(named("n2", "agentA"))); !errors.Is(res.Err, ErrNameTaken) {
		t.Fatalf("name of a disconnected node: %v", res.Err)
	}
	if got := h.store.NodeNameHolder("agentA", "n2"); got == nil || got.ID != "n1" {
		t.Fatalf("NodeNameHolder = %+v, want n1", got)
	}
	// Down: the name is free, and the old holder cannot take it back.
	h.mustApply(Op{NodeStatus: &NodeStatus{NodeID: "n1", Status: structs.NodeDown}})
	h.mustApply(nodeOp(named("n2", "agentA")))
	if res := h.apply(nodeOp(named("n1", "agentA"))); !errors.Is(res.Err, ErrNameTaken) {
		t.Fatalf("old holder back while n2 holds the name: %v", res.Err)
	}
	// Renaming to a free name works.
	h.mustApply(nodeOp(named("n1", "agentC")))
}
