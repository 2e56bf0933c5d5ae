package ui_test

import (
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/api/apitest"
	"github.com/tether-edge/tether/central/structs"
)

// rolloutBackend is apitest's backend whose state also holds agent
// rollouts, as central/state's store does.
type rolloutBackend struct {
	*apitest.Backend
	rs []*structs.AgentRollout
}

func (b *rolloutBackend) State() api.Reader { return rolloutState{b.Backend, b.rs} }

type rolloutState struct {
	api.Reader
	rs []*structs.AgentRollout
}

func (s rolloutState) AgentRollouts() []*structs.AgentRollout { return s.rs }

// rolloutOf builds a rollout of n nodes, the first canaries of them
// canaries, with statuses status(i).
func rolloutOf(id, version, st string, idx uint64, n, canaries, maxParallel int, status func(i int) string) *structs.AgentRollout {
	r := &structs.AgentRollout{ID: id, Version: version, Status: st, Canary: canaries, MaxParallel: maxParallel, MaxParallelSpec: fmt.Sprint(maxParallel),
		Nodes: map[string]*structs.RolloutNode{}, CreateIndex: idx, CreateTime: int64(idx) * 1e9}
	for i := 0; i < n; i++ {
		nid := fmt.Sprintf("node-%05d", i)
		r.Order = append(r.Order, nid)
		r.Nodes[nid] = &structs.RolloutNode{Name: fmt.Sprintf("edge-%05d", i), Target: "linux/arm64", FromVersion: "0.9.0", Canary: i < canaries, Status: status(i)}
	}
	return r
}

// The rollouts page lists each rollout, newest first, with its version,
// status, waves and nodes by status; a rollout's page lists its nodes,
// those not yet healthy first, at most 200, and its events.
func TestRolloutPages(t *testing.T) {
	b := &rolloutBackend{Backend: apitest.New()}
	b.rs = []*structs.AgentRollout{
		rolloutOf("r0000001-aaaa", "0.9.0", structs.RolloutComplete, 3, 4, 1, 2, func(int) string { return structs.RolloutNodeHealthy }),
		rolloutOf("r0000002-bbbb", "1.0.0", structs.RolloutRunning, 9, 500, 2, 10, func(i int) string {
			switch {
			case i < 2 || i >= 480:
				return structs.RolloutNodeHealthy
			case i < 12:
				return structs.RolloutNodeUpgrading
			case i == 12:
				return structs.RolloutNodeFailed
			}
			return structs.RolloutNodePending
		}),
	}
	b.rs[1].Events = []structs.RolloutEvent{{Time: 1e9, Message: "canaries ordered"}, {Time: 2e9, Node: "edge-00012", Message: "rolled back: not healthy in 5m"}}
	srv := httptest.NewServer(api.New(b, nil))
	t.Cleanup(srv.Close)

	code, body := get(t, srv.URL+"/ui/rollouts")
	if code != 200 {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	rows := regexp.MustCompile(`(?s)<tr class="rollout" data-rollout="([^"]+)">.*?<td class="version">([^<]+)</td>\s*<td class="status [a-z]*">([a-z]+)</td>\s*<td>([^<]*)</td>\s*<td class="nodes">(\d+)</td>.*?<td class="n-healthy">(\d+)</td><td class="n-upgrading">(\d+)</td><td class="n-pending">(\d+)</td><td class="n-failed[^"]*">(\d+)</td>`).FindAllStringSubmatch(body, -1)
	if len(rows) != 2 {
		t.Fatalf("%d rollout rows, want 2:\n%s", len(rows), body)
	}
	want := [][]string{
		{"r0000002-bbbb", "1.0.0", "running", "canaries 2/2, then 20/498, 10 at a time", "500", "22", "10", "467", "1"},
		{"r0000001-aaaa", "0.9.0", "complete", "canaries 1/1, then 3/3, 2 at a time", "4", "4", "0", "0", "0"},
	}
	for i, w := range want {
		if got := rows[i][1:]; strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("row %d: %q, want %q", i, got, w)
		}
	}

	code, body = get(t, srv.URL+"/ui/rollouts/r0000002")
	if code != 200 {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	nodes := regexp.MustCompile(`<tr class="rollout-node" data-node="node-(\d+)">`).FindAllStringSubmatch(body, -1)
	if len(nodes) != 200 || nodes[0][1] != "00012" || nodes[1][1] != "00002" || !strings.Contains(body, "300 more") {
		t.Errorf("node rows: %d, first %v, want 200 starting with the failed node-00012 then the upgrading ones, and 300 more", len(nodes), nodes[:min(2, len(nodes))])
	}
	e1, e2 := strings.Index(body, "rolled back"), strings.Index(body, "canaries ordered")
	if e1 < 0 || e2 < 0 || e1 > e2 {
		t.Errorf("events not shown newest first")
	}
	acts := actionsOn(body)
	if acts["rollout-pause"].url != "/v1/agent/rollout/r0000002-bbbb/pause" || acts["rollout-abort"].url != "/v1/agent/rollout/r0000002-bbbb/abort" || len(acts) != 2 {
		t.Errorf("a running rollout's actions %v, want pause and abort", acts)
	}
	if !strings.Contains(body, `data-confirm="Abort rollout r0000002?`) {
		t.Errorf("aborting asks for no confirmation")
	}
	if _, body := get(t, srv.URL+"/ui/rollouts/r0000001"); len(actionsOn(body)) != 0 {
		t.Errorf("a complete rollout's actions %v, want none", actionsOn(body))
	}
	if code, _ := get(t, srv.URL+"/ui/rollouts/r0000"); code != 404 {
		t.Errorf("ambiguous prefix: HTTP %d, want 404", code)
	}
}
