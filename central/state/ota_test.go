package state

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
)

func testRelease(version, target string) *structs.AgentRelease {
	return &structs.AgentRelease{Version: version, Target: target, SHA256: strings.Repeat("ab", 32), Size: 1000, Holders: []string{"s1"}}
}

func testRollout(id string, nodes ...string) *structs.AgentRollout {
	r := &structs.AgentRollout{ID: id, Version: "2", Status: structs.RolloutRunning, MaxParallel: 1, Nodes: map[string]*structs.RolloutNode{}}
	for _, n := range nodes {
		r.Order = append(r.Order, n)
		r.Nodes[n] = &structs.RolloutNode{Target: "linux/amd64", Status: structs.RolloutNodePending}
	}
	return r
}

func otaOp(o OTAOp) Op { return Op{OTA: &o} }

// TestReleasesBoundedAndSnapshotted: at most MaxReleaseVersions versions
// (the oldest not used by the active rollout goes), another binary under
// an existing version/target is refused, and both tables survive a
// snapshot.
func TestReleasesBoundedAndSnapshotted(t *testing.T) {
	h := newHarness(t)
	h.mustApply(otaOp(OTAOp{UpsertRelease: testRelease("v0", "linux/amd64")}))
	r0 := testRollout("r0", "n1")
	r0.Version = "v0"
	h.mustApply(otaOp(OTAOp{StartRollout: r0}))
	// v0 is in use: v1 goes first when v9 arrives.
	for i := 1; i <= MaxReleaseVersions; i++ {
		h.mustApply(otaOp(OTAOp{UpsertRelease: testRelease(fmt.Sprintf("v%d", i), "linux/amd64")}))
	}
	if h.store.AgentRelease("v0", "linux/amd64") == nil || h.store.AgentRelease("v1", "linux/amd64") != nil || len(h.store.AgentReleases()) != MaxReleaseVersions {
		t.Fatalf("kept %d releases, v0 %v, v1 %v", len(h.store.AgentReleases()), h.store.AgentRelease("v0", "linux/amd64") != nil, h.store.AgentRelease("v1", "linux/amd64") != nil)
	}
	other := testRelease("v2", "linux/amd64")
	other.SHA256 = strings.Repeat("cd", 32)
	if res := h.apply(otaOp(OTAOp{UpsertRelease: other})); !errors.Is(res.Err, ErrConflict) {
		t.Errorf("another binary under v2: %v", res.Err)
	}
	if res := h.apply(otaOp(OTAOp{DeleteRelease: &DeleteRelease{Version: "v0"}})); !errors.Is(res.Err, ErrReleaseInUse) {
		t.Errorf("delete of the rollout's release: %v", res.Err)
	}
	if res := h.apply(otaOp(OTAOp{StartRollout: testRollout("r1", "n2")})); !errors.Is(res.Err, ErrRolloutActive) {
		t.Errorf("a second active rollout: %v", res.Err)
	}
	snap, _ := h.fsm.Snapshot()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := NewFSM(NewStore(), nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if len(fresh.Store().AgentReleases()) != MaxReleaseVersions || fresh.Store().ActiveRollout() == nil || fresh.Store().ActiveRollout().ID != "r0" {
		t.Fatalf("restored: %d releases, active rollout %v", len(fresh.Store().AgentReleases()), fresh.Store().ActiveRollout())
	}
}

// TestRolloutUpdateMarksOrderedNodes: a node whose order appears or goes
// is in NodesChanged (its desired state is republished); a step computed
// on a status an operator changed since is refused.
func TestRolloutUpdateMarksOrderedNodes(t *testing.T) {
	h := newHarness(t)
	h.mustApply(otaOp(OTAOp{StartRollout: testRollout("r", "n1", "n2")}))
	up := &structs.RolloutNode{Target: "linux/amd64", Status: structs.RolloutNodeUpgrading, OrderedAt: 1}
	res := h.mustApply(otaOp(OTAOp{UpdateRollout: &RolloutUpdate{ID: "r", IfStatus: []string{structs.RolloutRunning}, Nodes: map[string]*structs.RolloutNode{"n1": up}, Now: 1}}))
	if len(res.NodesChanged) != 1 || res.NodesChanged[0] != "n1" {
		t.Fatalf("nodes changed %v, want [n1]", res.NodesChanged)
	}
	if ro, n := h.store.live().UpgradeOrder("n1"); ro == nil || n.Status != structs.RolloutNodeUpgrading {
		t.Fatal("n1 has no order")
	}
	if ro, _ := h.store.live().UpgradeOrder("n2"); ro != nil {
		t.Fatal("n2 has an order")
	}
	h.mustApply(otaOp(OTAOp{UpdateRollout: &RolloutUpdate{ID: "r", Status: structs.RolloutPaused, Now: 2}}))
	res = h.apply(otaOp(OTAOp{UpdateRollout: &RolloutUpdate{ID: "r", IfStatus: []string{structs.RolloutRunning}, Nodes: map[string]*structs.RolloutNode{"n2": up}, Now: 3}}))
	if !errors.Is(res.Err, ErrConflict) {
		t.Fatalf("a step on a paused rollout: %v", res.Err)
	}
	// Aborting withdraws every order: the node is republished without it.
	res = h.mustApply(otaOp(OTAOp{UpdateRollout: &RolloutUpdate{ID: "r", Status: structs.RolloutAborted, Now: 4}}))
	if len(res.NodesChanged) != 1 || res.NodesChanged[0] != "n1" {
		t.Fatalf("abort: nodes changed %v, want [n1]", res.NodesChanged)
	}
	if ro, _ := h.store.live().UpgradeOrder("n1"); ro != nil {
		t.Fatal("an aborted rollout still orders n1")
	}
}
