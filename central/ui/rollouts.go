package ui

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/tether-edge/tether/central/structs"
)

// Agent rollouts (docs/upgrades.md): the leader upgrades the selected
// nodes in waves, the canaries first, all at once, then the others, at
// most MaxParallel at a time. The pages show what GET /v1/agent/rollouts
// and GET /v1/agent/rollout/<id> serve.

// rolloutStatuses are a rollout node's statuses in the order shown.
var rolloutStatuses = []string{structs.RolloutNodeHealthy, structs.RolloutNodeUpgrading, structs.RolloutNodePending,
	structs.RolloutNodeFailed, structs.RolloutNodeSkipped, structs.RolloutNodeCancelled}

// maxRolloutNodes bounds the node table of a rollout's page: a rollout
// of 10,000 nodes lists the ones not yet healthy first.
const maxRolloutNodes = 200

// rolloutRow is one rollout with its progress.
type rolloutRow struct {
	R      *structs.AgentRollout
	Counts []statusCount // by rolloutStatuses
	Bar    template.HTML
	// Canaries and Others are the two waves: how many nodes each has and
	// how many of them are healthy.
	Canaries, CanariesHealthy int
	Others, OthersHealthy     int
}

type rolloutPage struct {
	rolloutRow
	Nodes   []rolloutNodeRow // not healthy first, then in order; at most maxRolloutNodes
	Hidden  int              // nodes left out of Nodes
	Events  []structs.RolloutEvent
	Actions []action
}

type rolloutNodeRow struct {
	ID string
	*structs.RolloutNode
}

func newRolloutRow(r *structs.AgentRollout) rolloutRow {
	row := rolloutRow{R: r}
	by := r.RolloutCounts()
	for _, s := range rolloutStatuses {
		row.Counts = append(row.Counts, statusCount{s, by[s]})
	}
	row.Bar = statusBar(row.Counts, rolloutNodeClass)
	for _, id := range r.Order {
		n := r.Nodes[id]
		if n == nil {
			continue
		}
		healthy := n.Status == structs.RolloutNodeHealthy
		if n.Canary {
			row.Canaries++
			if healthy {
				row.CanariesHealthy++
			}
		} else {
			row.Others++
			if healthy {
				row.OthersHealthy++
			}
		}
	}
	return row
}

func (u *UI) rollouts(_ *http.Request, st Reader) (any, error) {
	var out []rolloutRow
	for _, r := range st.AgentRollouts() {
		out = append(out, newRolloutRow(r))
	}
	slices.SortFunc(out, func(a, b rolloutRow) int { return cmp.Compare(b.R.CreateIndex, a.R.CreateIndex) })
	return out, nil
}

// rollout finds a rollout by ID or unique prefix.
func (u *UI) rollout(r *http.Request, st Reader) (any, error) {
	id := r.PathValue("id")
	var match []*structs.AgentRollout
	for _, ro := range st.AgentRollouts() {
		if ro.ID == id {
			match = []*structs.AgentRollout{ro}
			break
		}
		if strings.HasPrefix(ro.ID, id) {
			match = append(match, ro)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: agent rollout %q", ErrNotFound, id)
	case 1:
	default:
		return nil, fmt.Errorf("%w: rollout prefix %q matches %d rollouts; give more characters", ErrNotFound, id, len(match))
	}
	ro := match[0]
	p := rolloutPage{rolloutRow: newRolloutRow(ro), Events: slices.Clone(ro.Events), Actions: rolloutActions(st, ro)}
	slices.Reverse(p.Events) // newest first
	rank := func(s string) int {
		switch s {
		case structs.RolloutNodeFailed:
			return 0
		case structs.RolloutNodeUpgrading:
			return 1
		case structs.RolloutNodePending:
			return 2
		case structs.RolloutNodeSkipped, structs.RolloutNodeCancelled:
			return 3
		}
		return 4
	}
	for _, id := range ro.Order {
		if n := ro.Nodes[id]; n != nil {
			p.Nodes = append(p.Nodes, rolloutNodeRow{id, n})
		}
	}
	slices.SortStableFunc(p.Nodes, func(a, b rolloutNodeRow) int { return cmp.Compare(rank(a.Status), rank(b.Status)) })
	if len(p.Nodes) > maxRolloutNodes {
		p.Hidden = len(p.Nodes) - maxRolloutNodes
		p.Nodes = p.Nodes[:maxRolloutNodes]
	}
	return p, nil
}

// rolloutClass colours a rollout's status.
func rolloutClass(s string) string {
	switch s {
	case structs.RolloutComplete:
		return "ok"
	case structs.RolloutRunning, structs.RolloutPaused:
		return "warn"
	case structs.RolloutFailed, structs.RolloutAborted:
		return "bad"
	}
	return ""
}

// rolloutNodeClass colours a node's status in a rollout.
func rolloutNodeClass(s string) string {
	switch s {
	case structs.RolloutNodeHealthy:
		return "ok"
	case structs.RolloutNodeUpgrading:
		return "info"
	case structs.RolloutNodeFailed:
		return "bad"
	}
	return "muted"
}
