package ota

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
)

// NodeView is what Step needs to know of one node of a rollout, read from
// the state store (its last hello) by the caller.
type NodeView struct {
	Known      bool   // the node is in the state store
	Ready      bool   // its status is ready
	Version    string // the agent version of its last hello
	Reattached bool   // its last hello said every allocation is re-attached
	// FailedVersion and FailedRollout come from the hello's upgrade
	// failure report; FailedReason says why.
	FailedVersion, FailedRollout, FailedReason string
}

// Step advances a rollout at time now (unix ns): it judges the nodes
// being upgraded (healthy, failed, still waiting) and, while the rollout
// runs, orders the next ones: the canaries first, all at once; once every
// canary is healthy, the others in order, at most MaxParallel upgrading at
// a time. A node that reports the version failed, or is not healthy by
// the end of its health window, fails the rollout: no node is ordered
// after that, and the orders of the nodes still upgrading are withdrawn.
// A node that is not ready when its turn comes is passed over and ordered
// if it comes back while the rollout runs; at the end the nodes still
// away are skipped. Step returns nil when nothing changes. It reads
// nothing but its arguments.
func Step(r *structs.AgentRollout, view func(nodeID string) NodeView, now int64) *state.RolloutUpdate {
	if !r.Active() {
		return nil
	}
	u := &state.RolloutUpdate{ID: r.ID, IfStatus: []string{r.Status}, Nodes: map[string]*structs.RolloutNode{}, Now: now}
	cur := func(id string) *structs.RolloutNode {
		if n, ok := u.Nodes[id]; ok {
			return n
		}
		return r.Nodes[id]
	}
	set := func(id string, n structs.RolloutNode, msg string) {
		u.Nodes[id] = &n
		if msg != "" {
			u.Events = append(u.Events, structs.RolloutEvent{Time: now, Node: nodeLabel(id, n.Name), Message: msg})
		}
	}

	// Judge the nodes being upgraded.
	upgrading, failed := 0, ""
	for _, id := range r.Order {
		n := r.Nodes[id]
		if n.Status != structs.RolloutNodeUpgrading {
			continue
		}
		v := view(id)
		c := *n
		switch {
		case v.FailedVersion == r.Version && (v.FailedRollout == "" || v.FailedRollout == r.ID):
			c.Status, c.DoneAt = structs.RolloutNodeFailed, now
			c.Description = "the agent reports version " + r.Version + " failed: " + v.FailedReason
			set(id, c, c.Description)
			failed = nodeLabel(id, n.Name) + ": " + c.Description
		case v.Ready && v.Version == r.Version && v.Reattached:
			c.Status, c.DoneAt, c.Description = structs.RolloutNodeHealthy, now, ""
			set(id, c, "healthy on "+r.Version)
		case now-n.OrderedAt > r.HealthWindow:
			c.Status, c.DoneAt = structs.RolloutNodeFailed, now
			c.Description = fmt.Sprintf("not healthy on %s within the health window of %s (%s)", r.Version, fmtDur(r.HealthWindow), describe(v))
			set(id, c, c.Description)
			failed = nodeLabel(id, n.Name) + ": " + c.Description
		default:
			upgrading++
		}
	}
	if failed != "" {
		// Halt: withdraw every order not yet judged.
		for _, id := range r.Order {
			if n := cur(id); n.Status == structs.RolloutNodeUpgrading {
				c := *n
				c.Status, c.DoneAt, c.Description = structs.RolloutNodeCancelled, now, "order withdrawn: the rollout failed"
				set(id, c, "")
			}
		}
		u.Status, u.StatusDescription = structs.RolloutFailed, "failed on "+failed
		u.Events = append(u.Events, structs.RolloutEvent{Time: now, Message: "rollout failed: " + failed})
		return u
	}
	if r.Status == structs.RolloutPaused {
		return orNil(u)
	}

	order := func(id string, n *structs.RolloutNode, canary bool) {
		c := *n
		c.Status, c.OrderedAt, c.Canary, c.Description = structs.RolloutNodeUpgrading, now, canary, ""
		what := "ordered to upgrade to " + r.Version
		if canary {
			what = "canary: " + what
		}
		set(id, c, what)
		upgrading++
	}
	// already is a pending node that runs the version already (upgraded
	// by hand, or by an earlier rollout that was aborted after it). It was
	// not ordered, so its agent may not report Reattached (an agent sends
	// it only after an order): its version is enough.
	already := func(id string, n *structs.RolloutNode, v NodeView) bool {
		if v.Ready && v.Version == r.Version {
			c := *n
			c.Status, c.DoneAt, c.Description = structs.RolloutNodeHealthy, now, "already on "+r.Version
			set(id, c, c.Description)
			return true
		}
		return false
	}

	// Canaries: every canary healthy before any other node is ordered.
	if r.Canary > 0 {
		healthy, inFlight := 0, 0
		for _, id := range r.Order {
			n := cur(id)
			if !n.Canary {
				continue
			}
			switch n.Status {
			case structs.RolloutNodeHealthy:
				healthy++
			case structs.RolloutNodeUpgrading:
				inFlight++
			}
		}
		if healthy < r.Canary {
			// Order canaries among the ready pending nodes until there
			// are r.Canary in flight or healthy.
			for _, id := range r.Order {
				if healthy+inFlight >= r.Canary {
					break
				}
				n := cur(id)
				if n.Status != structs.RolloutNodePending {
					continue
				}
				v := view(id)
				if !v.Known || !v.Ready {
					continue
				}
				if already(id, n, v) {
					continue
				}
				order(id, n, true)
				inFlight++
			}
			if inFlight > 0 || upgrading > 0 {
				return orNil(u) // wait for the canaries
			}
			// No other node can be a canary now (fewer ready nodes than
			// canaries): the gate is as many as there were.
		}
	}

	// Waves: at most MaxParallel upgrading at once.
	waiting := 0 // pending nodes passed over (not ready)
	for _, id := range r.Order {
		n := cur(id)
		if n.Status != structs.RolloutNodePending {
			continue
		}
		if upgrading >= max(r.MaxParallel, 1) {
			waiting++
			continue
		}
		v := view(id)
		if !v.Known || !v.Ready {
			waiting++
			continue
		}
		if already(id, n, v) {
			continue
		}
		order(id, n, false)
	}
	if upgrading > 0 {
		return orNil(u)
	}
	// Nothing upgrading, nothing orderable: the rollout is done. The nodes
	// still away are skipped.
	skipped := 0
	for _, id := range r.Order {
		if n := cur(id); n.Status == structs.RolloutNodePending {
			c := *n
			c.Status, c.DoneAt = structs.RolloutNodeSkipped, now
			c.Description = "not ready (offline or unknown) until the end of the rollout: start another rollout to " + r.Version + " once it is back"
			set(id, c, "skipped: not ready")
			skipped++
		}
	}
	healthy := 0
	for _, id := range r.Order {
		if cur(id).Status == structs.RolloutNodeHealthy {
			healthy++
		}
	}
	u.Status = structs.RolloutComplete
	u.StatusDescription = fmt.Sprintf("%d of %d nodes on %s", healthy, len(r.Order), r.Version)
	if skipped > 0 {
		u.StatusDescription += fmt.Sprintf(", %d skipped", skipped)
	}
	u.Events = append(u.Events, structs.RolloutEvent{Time: now, Message: "rollout complete: " + u.StatusDescription})
	return u
}

// orNil is u, or nil when it changes nothing.
func orNil(u *state.RolloutUpdate) *state.RolloutUpdate {
	if len(u.Nodes) == 0 && u.Status == "" && len(u.Events) == 0 {
		return nil
	}
	return u
}

func nodeLabel(id, name string) string {
	if name != "" && name != id {
		return name
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func describe(v NodeView) string {
	var parts []string
	switch {
	case !v.Known:
		parts = append(parts, "node unknown")
	case !v.Ready:
		parts = append(parts, "node not ready")
	}
	if v.Version != "" {
		parts = append(parts, "runs "+strconv.Quote(v.Version))
	}
	if v.Known && !v.Reattached {
		parts = append(parts, "allocations not all re-attached")
	}
	return strings.Join(parts, ", ")
}

func fmtDur(ns int64) string { return time.Duration(ns).String() }
