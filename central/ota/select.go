package ota

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/agent/upgrade"
	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// RolloutSpec is what an operator asks of a rollout.
type RolloutSpec struct {
	Version        string   `json:"version"`
	Datacenters    []string `json:"datacenters,omitempty"`
	Constraints    []string `json:"constraints,omitempty"` // "attr.cpu.arch = arm64"
	Canary         int      `json:"canary,omitempty"`
	MaxParallel    string   `json:"max_parallel,omitempty"`  // "2" or "10%"; "": 1
	HealthWindow   string   `json:"health_window,omitempty"` // Go duration; "": 2m
	AllowDowngrade bool     `json:"allow_downgrade,omitempty"`
}

// ParseConstraint reads "attr.cpu.arch = arm64", "${meta.site} != lab" or
// "attr.x is_set" into a constraint.
func ParseConstraint(s string) (*jobspec.Constraint, error) {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return nil, fmt.Errorf("constraint %q: want \"<attr.X|meta.X|node.datacenter|node.unique.name> <operator> <value>\", e.g. \"attr.cpu.arch = arm64\"", s)
	}
	l := f[0]
	if !strings.HasPrefix(l, "${") {
		l = "${" + l + "}"
	}
	c := &jobspec.Constraint{LTarget: l, Operand: f[1]}
	if len(f) == 3 {
		c.RTarget = f[2]
	}
	switch c.Operand {
	case scheduler.OpEqual, scheduler.OpEqual2, scheduler.OpIs, scheduler.OpNotEqual, scheduler.OpNot,
		scheduler.OpLess, scheduler.OpLessEqual, scheduler.OpGreater, scheduler.OpGreaterEqual,
		scheduler.OpRegexp, scheduler.OpVersion, scheduler.OpSemver,
		scheduler.OpSetContains, scheduler.OpSetContainsAll, scheduler.OpSetContainsAny:
		if len(f) != 3 {
			return nil, fmt.Errorf("constraint %q: operator %s needs a value", s, c.Operand)
		}
	case scheduler.OpIsSet, scheduler.OpIsNotSet:
		if len(f) != 2 {
			return nil, fmt.Errorf("constraint %q: operator %s takes no value", s, c.Operand)
		}
	default:
		return nil, fmt.Errorf("constraint %q: unknown operator %q (=, !=, <, <=, >, >=, regexp, version, semver, set_contains, set_contains_any, is_set, is_not_set)", s, c.Operand)
	}
	return c, nil
}

// NodeTarget is the release target a node's agent runs: from its
// fingerprint (cpu.arch, cpu.arm_version), "" when it cannot tell.
func NodeTarget(n *structs.Node) string {
	if os := n.Attributes["kernel.name"]; os != "" && os != "linux" {
		return ""
	}
	switch arch := n.Attributes["cpu.arch"]; arch {
	case "amd64", "arm64":
		return "linux/" + arch
	case "arm":
		switch n.Attributes["cpu.arm_version"] {
		case "6":
			return protocol.TargetLinuxARMv6
		case "7":
			return protocol.TargetLinuxARMv7
		}
	}
	return ""
}

// NewRollout selects the nodes of a rollout: every node in the given
// datacenters (all when none) that matches every constraint and is not
// down, runs another version, and says it can upgrade itself. has reports
// whether a release binary exists for a target. It refuses a rollout
// that would leave a selected node without a binary for its target, and
// one that selects no node. Nodes are ordered by name.
func NewRollout(id string, spec RolloutSpec, nodes []*structs.Node, has func(target string) bool, now int64) (*structs.AgentRollout, error) {
	var cons []*jobspec.Constraint
	for _, s := range spec.Constraints {
		c, err := ParseConstraint(s)
		if err != nil {
			return nil, err
		}
		cons = append(cons, c)
	}
	window := time.Duration(protocol.DefaultHealthWindowMs) * time.Millisecond
	if spec.HealthWindow != "" {
		d, err := time.ParseDuration(spec.HealthWindow)
		if err != nil || d < protocol.MinHealthWindowMs*time.Millisecond || d > protocol.MaxHealthWindowMs*time.Millisecond {
			return nil, fmt.Errorf("health window %q: want a duration from %s to %s, e.g. 2m", spec.HealthWindow, time.Duration(protocol.MinHealthWindowMs)*time.Millisecond, time.Duration(protocol.MaxHealthWindowMs)*time.Millisecond)
		}
		window = d
	}
	if spec.Canary < 0 {
		return nil, fmt.Errorf("canary %d: want 0 or more", spec.Canary)
	}
	r := &structs.AgentRollout{
		ID: id, Version: spec.Version, Datacenters: spec.Datacenters, Constraints: spec.Constraints,
		Canary: spec.Canary, MaxParallelSpec: spec.MaxParallel, HealthWindow: int64(window),
		AllowDowngrade: spec.AllowDowngrade, Status: structs.RolloutRunning,
		Nodes: map[string]*structs.RolloutNode{}, CreateTime: now, ModifyTime: now,
	}
	sorted := append([]*structs.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[i].Name < sorted[j].Name || sorted[i].Name == sorted[j].Name && sorted[i].ID < sorted[j].ID
	})
	missing := map[string][]string{} // target → nodes
	var old, newer []string
	for _, n := range sorted {
		if n.Status == structs.NodeDown || n.Version == spec.Version {
			continue
		}
		if len(spec.Datacenters) > 0 && !scheduler.DatacenterMatch(spec.Datacenters, n.Datacenter) {
			continue
		}
		match := true
		for _, c := range cons {
			if !scheduler.NodeMatches(c, n) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if n.Attributes[protocol.AttrUpgrade] != "1" {
			old = append(old, n.Name)
			continue
		}
		// The agents' own rule: they refuse an older version unless the
		// order allows a downgrade, which would fail the rollout at once.
		if err := upgrade.CheckVersion(n.Version, spec.Version, spec.AllowDowngrade); err != nil {
			newer = append(newer, n.Name+" runs "+n.Version)
			continue
		}
		t := NodeTarget(n)
		if t == "" || !has(t) {
			missing[t] = append(missing[t], n.Name)
			continue
		}
		r.Order = append(r.Order, n.ID)
		r.Nodes[n.ID] = &structs.RolloutNode{Name: n.Name, Target: t, FromVersion: n.Version, Status: structs.RolloutNodePending}
	}
	if len(newer) > 0 {
		return nil, fmt.Errorf("version %s is older than (or cannot be compared with) what %d selected node(s) run (%s): start the rollout with -allow-downgrade to install it anyway, or leave those nodes out with -datacenter or -constraint", spec.Version, len(newer), list(newer))
	}
	if len(missing) > 0 {
		var parts []string
		for t, ns := range missing {
			if t == "" {
				parts = append(parts, fmt.Sprintf("nodes whose target is not known (%s)", list(ns)))
				continue
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", t, list(ns)))
		}
		sort.Strings(parts)
		return nil, fmt.Errorf("release %s has no binary for %s: add one with `central agent release add -version %s FILE`, or leave those nodes out with -datacenter or -constraint", spec.Version, strings.Join(parts, "; "), spec.Version)
	}
	if len(r.Order) == 0 {
		why := "no node that is not down runs another version and matches -datacenter and -constraint"
		if len(old) > 0 {
			why = fmt.Sprintf("the matching nodes' agents are too old to upgrade themselves (%s): upgrade them once by hand", list(old))
		}
		return nil, fmt.Errorf("no node to upgrade to %s: %s", spec.Version, why)
	}
	mp, err := maxParallel(spec.MaxParallel, len(r.Order))
	if err != nil {
		return nil, err
	}
	r.MaxParallel = mp
	if len(old) > 0 {
		r.Events = append(r.Events, structs.RolloutEvent{Time: now, Message: fmt.Sprintf("left out %d node(s) whose agent is too old to upgrade itself: %s", len(old), list(old))})
	}
	return r, nil
}

// maxParallel reads "N" or "P%" (of total, rounded up, at least 1).
func maxParallel(s string, total int) (int, error) {
	if s == "" {
		return 1, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 || f > 100 {
			return 0, fmt.Errorf("max-parallel %q: want a number of nodes or a percentage from 1%% to 100%%", s)
		}
		return max(1, int(math.Ceil(f*float64(total)/100))), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("max-parallel %q: want a number of nodes (1 or more) or a percentage like 10%%", s)
	}
	return n, nil
}

func list(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}
