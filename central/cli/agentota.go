package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// Agent releases and rollouts (docs/upgrades.md).
func agentOTAVerbs() map[string]verb {
	return map[string]verb{
		"agent release add":    {"Add agent binaries of a version (the target is read from each binary)", "[options] -version V FILE...", (*env).releaseAdd},
		"agent release list":   {"List agent releases", "[options]", (*env).releaseList},
		"agent release delete": {"Delete an agent release (every target, or -target)", "[options] VERSION", (*env).releaseDelete},
		"agent rollout start":  {"Upgrade the agents of the selected nodes to a release, canaries first", "[options] -version V", (*env).rolloutStart},
		"agent rollout status": {"Show a rollout (the running one, else the latest) and each node's progress", "[options] [ROLLOUT]", (*env).rolloutStatus},
		"agent rollout pause":  {"Pause the rollout: no further node is ordered", "[options] [ROLLOUT]", (*env).rolloutPause},
		"agent rollout resume": {"Resume a paused rollout", "[options] [ROLLOUT]", (*env).rolloutResume},
		"agent rollout abort":  {"Abort the rollout: withdraw the orders of the nodes not yet upgraded", "[options] [ROLLOUT]", (*env).rolloutAbort},
	}
}

// agentVersion is a node's agent version as node status shows it.
func agentVersion(n *structs.Node) string {
	if n.Version == "" {
		return "<unknown>"
	}
	return n.Version
}

// upgradeFailure says why an agent's upgrade did not take.
func upgradeFailure(f *structs.UpgradeFailure) string {
	s := f.Reason
	if f.RolledBack {
		s += " (the previous agent was put back)"
	}
	return s
}

// uploadWait bounds one binary's upload (up to 64 MiB).
const uploadWait = 30 * time.Minute

func (e *env) releaseAdd(args []string) int {
	fs := e.flags()
	version := fs.String("version", "", "the version the binaries were built with (-X main.version=...); required")
	ext := fs.String("url", "", "where agents download the binary instead of from central (one FILE only; central inspects FILE and keeps only its hash)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if *version == "" {
		return e.usageFail("adding a release", fmt.Errorf("-version is required (the version the binaries report)"))
	}
	if fs.NArg() == 0 {
		return e.usageFail("adding a release", fmt.Errorf("name one agent binary or more (make cross builds them into dist/)"))
	}
	if *ext != "" && fs.NArg() != 1 {
		return e.usageFail("adding a release", fmt.Errorf("-url names one binary's location: give one FILE with it"))
	}
	rows := [][]string{{"Version", "Target", "Size", "SHA-256"}}
	for _, path := range fs.Args() {
		rel, err := e.uploadRelease(path, *version, *ext)
		if err != nil {
			return e.fail("adding "+path, err)
		}
		rows = append(rows, []string{rel.Version, rel.Target, strconv.FormatInt(rel.Size, 10), rel.SHA256})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) uploadRelease(path, version, ext string) (*structs.AgentRelease, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if ext != "" {
		q.Set("url", ext)
	}
	u := e.address + "/v1/agent/release/" + url.PathEscape(version)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), uploadWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, f)
	if err != nil {
		return nil, err
	}
	req.ContentLength = st.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	// A refusal (no management token, a follower without a leader) comes
	// back before the binary is sent.
	req.Header.Set("Expect", "100-continue")
	if e.token != "" {
		req.Header.Set(TokenHeader, e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		structs.AgentRelease
		Error string `json:"error"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("PUT %s: %s: %v", u, resp.Status, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, &apiError{code: resp.StatusCode, msg: out.Error}
	}
	return &out.AgentRelease, nil
}

func (e *env) releaseList(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []*structs.AgentRelease
	b, _, err := e.get(ctx, "/v1/agent/releases", nil, &list)
	if err != nil {
		return e.fail("listing agent releases", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No agent releases")
		return exitOK
	}
	rows := [][]string{{"Version", "Target", "Size", "SHA-256", "Source", "Added"}}
	for _, r := range list {
		src := "central"
		if r.URL != "" {
			src = r.URL
		}
		sum := r.SHA256
		if !e.verbose && len(sum) > 16 {
			sum = sum[:16]
		}
		rows = append(rows, []string{r.Version, r.Target, strconv.FormatInt(r.Size, 10), sum, src, e.ago(r.CreateTime)})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) releaseDelete(args []string) int {
	fs := e.flags()
	target := fs.String("target", "", "delete only this target's binary (linux/amd64, linux/arm64, linux/armv7, linux/armv6)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	q := url.Values{}
	if *target != "" {
		q.Set("target", *target)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/agent/release/"+url.PathEscape(fs.Arg(0)), q, nil); err != nil {
		return e.fail("deleting the release", err)
	}
	fmt.Fprintf(e.stdout, "Agent release %s deleted\n", fs.Arg(0))
	return exitOK
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

var _ flag.Value = (*multi)(nil)

func (e *env) rolloutStart(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	var dcs, cons multi
	version := fs.String("version", "", "the release to roll out; required")
	fs.Var(&dcs, "datacenter", "only nodes of this datacenter (repeatable; globs as in a job's datacenters)")
	fs.Var(&cons, "constraint", `only nodes matching "<attr.X|meta.X|node.datacenter> <op> <value>" (repeatable), e.g. "attr.cpu.arch = arm64"`)
	canary := fs.Int("canary", 0, "nodes upgraded first, alone; the others wait until every canary is healthy")
	maxPar := fs.String("max-parallel", "1", "nodes upgrading at once: a number, or a percentage of the selected nodes (10%)")
	window := fs.String("health-window", "2m", "how long an upgraded node has to come back healthy on the new version")
	down := fs.Bool("allow-downgrade", false, "let agents install a version older than the one they run")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	if *version == "" {
		return e.usageFail("starting a rollout", fmt.Errorf("-version is required"))
	}
	body := map[string]any{"version": *version, "datacenters": []string(dcs), "constraints": []string(cons),
		"canary": *canary, "max_parallel": *maxPar, "health_window": *window, "allow_downgrade": *down}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/agent/rollouts", nil, body)
	if err != nil {
		return e.fail("starting the rollout", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var ro structs.AgentRollout
	if err := json.Unmarshal(b, &ro); err != nil {
		return e.fail("starting the rollout", err)
	}
	fmt.Fprintf(e.stdout, "Rollout %s started: %d nodes to %s (canary %d, max parallel %d, health window %s)\n",
		e.short(ro.ID), len(ro.Order), ro.Version, ro.Canary, ro.MaxParallel, time.Duration(ro.HealthWindow))
	fmt.Fprintln(e.stdout, "Follow it with: central agent rollout status")
	return exitOK
}

func (e *env) rolloutStatus(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 1) {
		return exitUsage
	}
	id := "latest"
	if fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var ro structs.AgentRollout
	b, _, err := e.get(ctx, "/v1/agent/rollout/"+url.PathEscape(id), nil, &ro)
	if err != nil {
		return e.fail("reading the rollout", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	counts := ro.RolloutCounts()
	kv := [][]string{
		{"ID", e.short(ro.ID)},
		{"Version", ro.Version},
		{"Status", ro.Status},
		{"Description", ro.StatusDescription},
		{"Canary", strconv.Itoa(ro.Canary)},
		{"Max Parallel", strconv.Itoa(ro.MaxParallel)},
		{"Health Window", time.Duration(ro.HealthWindow).String()},
		{"Nodes", fmt.Sprintf("%d (healthy %d, upgrading %d, pending %d, failed %d, cancelled %d, skipped %d)", len(ro.Order),
			counts[structs.RolloutNodeHealthy], counts[structs.RolloutNodeUpgrading], counts[structs.RolloutNodePending],
			counts[structs.RolloutNodeFailed], counts[structs.RolloutNodeCancelled], counts[structs.RolloutNodeSkipped])},
		{"Started", e.ago(ro.CreateTime)},
	}
	for _, r := range kv {
		fmt.Fprintf(e.stdout, "%-14s= %s\n", r[0], r[1])
	}
	fmt.Fprintln(e.stdout, "\nNodes")
	rows := [][]string{{"Node", "Target", "From", "Canary", "Status", "Description"}}
	for _, id := range ro.Order {
		n := ro.Nodes[id]
		name := n.Name
		if name == "" {
			name = e.short(id)
		}
		rows = append(rows, []string{name, n.Target, n.FromVersion, strconv.FormatBool(n.Canary), n.Status, n.Description})
	}
	table(e.stdout, rows)
	if len(ro.Events) > 0 {
		fmt.Fprintln(e.stdout, "\nRecent Events")
		evs := append([]structs.RolloutEvent(nil), ro.Events...)
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time > evs[j].Time })
		rows := [][]string{{"Time", "Node", "Message"}}
		for i, ev := range evs {
			if i == 10 && !e.verbose {
				break
			}
			rows = append(rows, []string{time.Unix(0, ev.Time).UTC().Format(time.RFC3339), ev.Node, ev.Message})
		}
		table(e.stdout, rows)
	}
	if ro.Status == structs.RolloutFailed {
		return exitError
	}
	return exitOK
}

func (e *env) rolloutPause(args []string) int  { return e.rolloutAction(args, "pause", "paused") }
func (e *env) rolloutResume(args []string) int { return e.rolloutAction(args, "resume", "resumed") }
func (e *env) rolloutAbort(args []string) int  { return e.rolloutAction(args, "abort", "aborted") }

func (e *env) rolloutAction(args []string, action, done string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 1) {
		return exitUsage
	}
	id := "latest"
	if fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/agent/rollout/"+url.PathEscape(id)+"/"+action, nil, nil)
	if err != nil {
		return e.fail(action+" rollout", err)
	}
	var ro structs.AgentRollout
	json.Unmarshal(b, &ro)
	fmt.Fprintf(e.stdout, "Rollout %s %s\n", e.short(ro.ID), done)
	return exitOK
}
