package ota_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/ota"
	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// sim applies Step's updates to a rollout, as the store would.
type sim struct {
	r     *structs.AgentRollout
	nodes map[string]*ota.NodeView
	now   int64
}

func newSim(t *testing.T, n int, spec ota.RolloutSpec) *sim {
	t.Helper()
	var nodes []*structs.Node
	s := &sim{nodes: map[string]*ota.NodeView{}, now: time.Hour.Nanoseconds()}
	for i := range n {
		id := fmt.Sprintf("node-%02d", i)
		nodes = append(nodes, &structs.Node{ID: id, Name: id, Status: structs.NodeReady, Version: "1",
			Attributes: map[string]string{"cpu.arch": "arm", "cpu.arm_version": "6", protocol.AttrUpgrade: "1"}})
		s.nodes[id] = &ota.NodeView{Known: true, Ready: true, Version: "1", Reattached: true}
	}
	r, err := ota.NewRollout("r1", spec, nodes, func(t string) bool { return t == protocol.TargetLinuxARMv6 }, s.now)
	if err != nil {
		t.Fatal(err)
	}
	s.r = r
	return s
}

func (s *sim) step(t *testing.T) *state.RolloutUpdate {
	t.Helper()
	u := ota.Step(s.r, func(id string) ota.NodeView { return *s.nodes[id] }, s.now)
	if u == nil {
		return nil
	}
	c := *s.r
	c.Nodes = map[string]*structs.RolloutNode{}
	for id, n := range s.r.Nodes {
		c.Nodes[id] = n
	}
	for id, n := range u.Nodes {
		c.Nodes[id] = n
	}
	if u.Status != "" {
		c.Status, c.StatusDescription = u.Status, u.StatusDescription
	}
	s.r = &c
	return u
}

func (s *sim) with(status string) []string {
	var out []string
	for _, id := range s.r.Order {
		if s.r.Nodes[id].Status == status {
			out = append(out, id)
		}
	}
	return out
}

// upgrade makes every upgrading node come back on the version.
func (s *sim) upgrade() {
	for _, id := range s.with(structs.RolloutNodeUpgrading) {
		s.nodes[id].Version = s.r.Version
	}
}

func TestStepCanaryThenWaves(t *testing.T) {
	s := newSim(t, 10, ota.RolloutSpec{Version: "2", Canary: 2, MaxParallel: "30%"})
	if s.r.MaxParallel != 3 {
		t.Fatalf("max parallel %d, want 3 (30%% of 10 rounded up)", s.r.MaxParallel)
	}
	s.step(t)
	if got := s.with(structs.RolloutNodeUpgrading); len(got) != 2 || !s.r.Nodes[got[0]].Canary {
		t.Fatalf("canaries first: %v", got)
	}
	s.now += int64(time.Second)
	if s.step(t) != nil {
		t.Fatal("nothing should change while the canaries upgrade")
	}
	// One canary back but its allocations not yet re-attached: not healthy.
	c0 := s.with(structs.RolloutNodeUpgrading)[0]
	s.nodes[c0].Version, s.nodes[c0].Reattached = "2", false
	s.step(t)
	if len(s.with(structs.RolloutNodeHealthy)) != 0 {
		t.Fatal("healthy before re-attaching")
	}
	s.nodes[c0].Reattached = true
	s.upgrade()
	s.step(t)
	if h, u := s.with(structs.RolloutNodeHealthy), s.with(structs.RolloutNodeUpgrading); len(h) != 2 || len(u) != 3 {
		t.Fatalf("after the canaries: healthy %v, upgrading %v (want 2, 3)", h, u)
	}
	for i := 0; i < 10 && s.r.Status == structs.RolloutRunning; i++ {
		if n := len(s.with(structs.RolloutNodeUpgrading)); n > 3 {
			t.Fatalf("%d upgrading at once", n)
		}
		s.upgrade()
		s.step(t)
	}
	if s.r.Status != structs.RolloutComplete || len(s.with(structs.RolloutNodeHealthy)) != 10 {
		t.Fatalf("status %s %q, healthy %d", s.r.Status, s.r.StatusDescription, len(s.with(structs.RolloutNodeHealthy)))
	}
}

func TestStepFailureHaltsAndWithdraws(t *testing.T) {
	for _, how := range []string{"reported", "window"} {
		s := newSim(t, 6, ota.RolloutSpec{Version: "2", MaxParallel: "2", HealthWindow: "30s"})
		s.step(t)
		up := s.with(structs.RolloutNodeUpgrading)
		if len(up) != 2 {
			t.Fatalf("%s: upgrading %v", how, up)
		}
		switch how {
		case "reported":
			s.nodes[up[0]].FailedVersion, s.nodes[up[0]].FailedRollout, s.nodes[up[0]].FailedReason = "2", "r1", "crashed"
		case "window":
			s.now += int64(31 * time.Second)
		}
		s.step(t)
		if s.r.Status != structs.RolloutFailed {
			t.Fatalf("%s: status %s", how, s.r.Status)
		}
		if f := s.with(structs.RolloutNodeFailed); len(f) == 0 || !strings.Contains(s.r.StatusDescription, s.r.Nodes[f[0]].Description) {
			t.Errorf("%s: failed %v, description %q", how, f, s.r.StatusDescription)
		}
		if len(s.with(structs.RolloutNodeUpgrading)) != 0 {
			t.Errorf("%s: orders left after the failure", how)
		}
		if p := s.with(structs.RolloutNodePending); len(p) != 4 {
			t.Errorf("%s: pending %v, want the 4 never ordered", how, p)
		}
		if s.step(t) != nil {
			t.Errorf("%s: a failed rollout still changes", how)
		}
	}
	// A failure reported for another version or rollout is not this one's.
	s := newSim(t, 1, ota.RolloutSpec{Version: "2"})
	s.step(t)
	id := s.with(structs.RolloutNodeUpgrading)[0]
	s.nodes[id].FailedVersion, s.nodes[id].FailedRollout = "2", "an-older-rollout"
	s.step(t)
	if s.r.Status != structs.RolloutRunning {
		t.Errorf("an old rollout's failure failed this one: %s", s.r.Status)
	}
}

func TestStepOfflineNodesPassedOverThenSkipped(t *testing.T) {
	s := newSim(t, 4, ota.RolloutSpec{Version: "2", MaxParallel: "4"})
	s.nodes["node-01"].Ready = false
	s.nodes["node-02"].Ready = false
	s.step(t)
	if up := s.with(structs.RolloutNodeUpgrading); len(up) != 2 {
		t.Fatalf("upgrading %v, want the 2 ready nodes", up)
	}
	// node-01 returns while the rollout runs: it is ordered.
	s.nodes["node-01"].Ready = true
	s.step(t)
	if s.r.Nodes["node-01"].Status != structs.RolloutNodeUpgrading {
		t.Fatalf("node-01 back: %s", s.r.Nodes["node-01"].Status)
	}
	s.upgrade()
	s.step(t)
	if s.r.Status != structs.RolloutComplete || s.r.Nodes["node-02"].Status != structs.RolloutNodeSkipped {
		t.Fatalf("status %s, node-02 %s", s.r.Status, s.r.Nodes["node-02"].Status)
	}
	if !strings.Contains(s.r.StatusDescription, "1 skipped") {
		t.Errorf("description %q", s.r.StatusDescription)
	}
}

func TestStepMoreCanariesThanNodes(t *testing.T) {
	s := newSim(t, 2, ota.RolloutSpec{Version: "2", Canary: 3})
	for i := 0; i < 5 && s.r.Status == structs.RolloutRunning; i++ {
		s.step(t)
		s.upgrade()
	}
	if s.r.Status != structs.RolloutComplete || len(s.with(structs.RolloutNodeHealthy)) != 2 {
		t.Fatalf("status %s %q", s.r.Status, s.r.StatusDescription)
	}
}

func TestStepPausedOrdersNothing(t *testing.T) {
	s := newSim(t, 3, ota.RolloutSpec{Version: "2"})
	s.r.Status = structs.RolloutPaused
	s.step(t)
	if len(s.with(structs.RolloutNodeUpgrading)) != 0 {
		t.Fatal("a paused rollout ordered a node")
	}
}

func TestNewRolloutRefuses(t *testing.T) {
	nodes := []*structs.Node{
		{ID: "a", Name: "a", Status: structs.NodeReady, Version: "1", Datacenter: "dc1", Attributes: map[string]string{"cpu.arch": "amd64", protocol.AttrUpgrade: "1"}},
		{ID: "b", Name: "b", Status: structs.NodeReady, Version: "1", Datacenter: "dc2", Attributes: map[string]string{"cpu.arch": "arm", "cpu.arm_version": "7", protocol.AttrUpgrade: "1"}},
		{ID: "c", Name: "c", Status: structs.NodeReady, Version: "1", Datacenter: "dc1", Attributes: map[string]string{"cpu.arch": "amd64"}},
	}
	amd := func(t string) bool { return t == protocol.TargetLinuxAMD64 }
	if _, err := ota.NewRollout("r", ota.RolloutSpec{Version: "2"}, nodes, amd, 0); err == nil || !strings.Contains(err.Error(), "linux/armv7 (b)") {
		t.Errorf("missing armv7 binary: %v", err)
	}
	r, err := ota.NewRollout("r", ota.RolloutSpec{Version: "2", Datacenters: []string{"dc1"}}, nodes, amd, 0)
	if err != nil || len(r.Order) != 1 || r.Order[0] != "a" {
		t.Fatalf("dc1: %v %v", r, err)
	}
	r, err = ota.NewRollout("r", ota.RolloutSpec{Version: "2", Constraints: []string{"attr.cpu.arch = amd64"}}, nodes, amd, 0)
	if err != nil || len(r.Order) != 1 {
		t.Fatalf("constraint: %v %v", r, err)
	}
	// An older version is refused before any agent is ordered (the agents
	// would refuse it) unless the rollout allows a downgrade.
	if _, err := ota.NewRollout("r", ota.RolloutSpec{Version: "0.9", Datacenters: []string{"dc1"}}, nodes, amd, 0); err == nil || !strings.Contains(err.Error(), "a runs 1") || !strings.Contains(err.Error(), "-allow-downgrade") {
		t.Errorf("downgrade without -allow-downgrade: %v", err)
	}
	if r, err := ota.NewRollout("r", ota.RolloutSpec{Version: "0.9", Datacenters: []string{"dc1"}, AllowDowngrade: true}, nodes, amd, 0); err != nil || len(r.Order) != 1 {
		t.Errorf("downgrade with -allow-downgrade: %v %v", r, err)
	}
	for _, spec := range []ota.RolloutSpec{
		{Version: "2", Constraints: []string{"attr.cpu.arch ~ amd64"}},
		{Version: "2", MaxParallel: "0"},
		{Version: "2", MaxParallel: "150%"},
		{Version: "2", HealthWindow: "1s"},
		{Version: "2", Constraints: []string{"node.datacenter = dc9"}},
	} {
		if _, err := ota.NewRollout("r", spec, nodes, amd, 0); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
}
