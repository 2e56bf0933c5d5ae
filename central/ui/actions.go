package ui

import (
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// An operator's actions are buttons that call the HTTP API from the page
// (app.js sends the request with the tab's token as X-Tether-Token and
// JSON as the body): the API's ACL checks and its cross-origin guard
// (SameOrigin) decide, exactly as for the CLI. A page shows a button only
// to a token that Reader.May says may do it; that hides what would be
// refused, and refuses nothing by itself. Destructive actions ask for a
// second click (data-confirm).

// Permissions a page asks Reader.May about: ACL capabilities in a
// namespace, or node write.
const (
	MaySubmitJob      = "submit-job"      // stop and start a job, promote or fail its deployment
	MayAllocLifecycle = "alloc-lifecycle" // restart an allocation
	MayNodeWrite      = "node-write"      // drain a node, make it eligible
	MayManagement     = "management"      // pause, resume, abort an agent rollout
)

// action is one button: the API request it makes.
type action struct {
	Kind    string // job-stop, job-start, node-drain, node-eligible, alloc-restart, deployment-promote, deployment-fail
	Label   string
	Method  string
	URL     string
	Body    string // JSON; "" for none
	Confirm string // the question of the confirmation step; "": none
	Done    string // said once the API accepted it
}

func jsonBody(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("BUG: ui: action body: " + err.Error())
	}
	return string(b)
}

func jobURL(j *jobspec.Job, suffix string) string {
	return "/v1/job/" + url.PathEscape(j.ID) + suffix + "?namespace=" + url.QueryEscape(j.Namespace)
}

// jobActions: stop a running job; start a stopped one by reverting to its
// newest kept version that was not stopped (what Nomad's job start does).
func jobActions(st Reader, j *jobspec.Job, versions []*jobspec.Job) []action {
	if !st.May(MaySubmitJob, j.Namespace) {
		return nil
	}
	if !j.Stop {
		return []action{{Kind: "job-stop", Label: "Stop job", Method: "DELETE", URL: jobURL(j, ""),
			Confirm: "Stop job " + j.ID + "? Its allocations are stopped; Start brings version " + strconv.FormatUint(j.Version, 10) + " back.",
			Done:    "Job " + j.ID + " stopped."}}
	}
	var start *jobspec.Job
	for _, v := range versions {
		if !v.Stop && v.Version < j.Version && (start == nil || v.Version > start.Version) {
			start = v
		}
	}
	if start == nil {
		return nil
	}
	return []action{{Kind: "job-start", Label: "Start job (version " + strconv.FormatUint(start.Version, 10) + ")", Method: "POST", URL: jobURL(j, "/revert"),
		Body: jsonBody(map[string]uint64{"job_version": start.Version, "enforce_prior_version": j.Version}),
		Done: "Job " + j.ID + " started again from version " + strconv.FormatUint(start.Version, 10) + "."}}
}

// deploymentActions: promote canaries waiting for it, fail an active
// deployment.
func deploymentActions(st Reader, d *structs.Deployment) []action {
	if d == nil || !d.Active() || !st.May(MaySubmitJob, d.Namespace) {
		return nil
	}
	var out []action
	for _, g := range d.TaskGroups {
		if g != nil && g.DesiredCanaries > 0 && !g.Promoted {
			out = append(out, action{Kind: "deployment-promote", Label: "Promote canaries", Method: "POST", URL: "/v1/deployment/promote/" + url.PathEscape(d.ID),
				Body: "{}", Done: "Deployment " + short(d.ID) + " promoted."})
			break
		}
	}
	return append(out, action{Kind: "deployment-fail", Label: "Fail deployment", Method: "POST", URL: "/v1/deployment/fail/" + url.PathEscape(d.ID),
		Body: "{}", Confirm: "Fail deployment " + short(d.ID) + "? The rollout stops (with auto_revert the job goes back to its last stable version).",
		Done: "Deployment " + short(d.ID) + " failed."})
}

// nodeActions: drain an eligible node; stop a drain, or make an
// ineligible node eligible again.
func nodeActions(st Reader, n *structs.Node) []action {
	if !st.May(MayNodeWrite, "") {
		return nil
	}
	u := "/v1/node/" + url.PathEscape(n.ID)
	switch {
	case n.Drain:
		return []action{{Kind: "node-eligible", Label: "Stop drain, make eligible", Method: "POST", URL: u + "/drain",
			Body: jsonBody(map[string]bool{"enable": false}), Done: "Node " + n.Name + " is eligible again."}}
	case !n.Eligible:
		return []action{{Kind: "node-eligible", Label: "Make eligible", Method: "POST", URL: u + "/eligibility",
			Body: jsonBody(map[string]string{"eligibility": "eligible"}), Done: "Node " + n.Name + " is eligible again."}}
	}
	return []action{{Kind: "node-drain", Label: "Drain node", Method: "POST", URL: u + "/drain",
		Body:    jsonBody(map[string]bool{"enable": true}),
		Confirm: "Drain node " + n.Name + "? Its allocations move to other nodes and it takes no new ones until made eligible again.",
		Done:    "Node " + n.Name + " is draining."}}
}

// allocActions: restart a running allocation's tasks in place.
func allocActions(st Reader, a *structs.Allocation) []action {
	if a.DesiredStatus != protocol.DesiredRun || a.ClientStatus != protocol.AllocRunning || !st.May(MayAllocLifecycle, a.Namespace) {
		return nil
	}
	return []action{{Kind: "alloc-restart", Label: "Restart", Method: "POST", URL: "/v1/client/allocation/" + url.PathEscape(a.ID) + "/restart",
		Body:    "{}",
		Confirm: "Restart allocation " + short(a.ID) + "? Its running tasks are stopped and started again in place.",
		Done:    "Restart of allocation " + short(a.ID) + " sent to its node; its tasks' events show it done."}}
}

// rolloutActions: pause a running rollout, resume a paused one, abort
// either (management only, as the API's rollout writes).
func rolloutActions(st Reader, r *structs.AgentRollout) []action {
	if !r.Active() || !st.May(MayManagement, "") {
		return nil
	}
	u := "/v1/agent/rollout/" + url.PathEscape(r.ID)
	var out []action
	switch r.Status {
	case structs.RolloutRunning:
		out = append(out, action{Kind: "rollout-pause", Label: "Pause", Method: "POST", URL: u + "/pause",
			Done: "Rollout " + short(r.ID) + " paused: no node is ordered; those upgrading are still judged."})
	case structs.RolloutPaused:
		out = append(out, action{Kind: "rollout-resume", Label: "Resume", Method: "POST", URL: u + "/resume",
			Done: "Rollout " + short(r.ID) + " resumed."})
	}
	return append(out, action{Kind: "rollout-abort", Label: "Abort rollout", Method: "POST", URL: u + "/abort",
		Confirm: "Abort rollout " + short(r.ID) + "? No node is ordered any more and the orders of those upgrading are withdrawn; upgraded nodes keep version " + r.Version + ".",
		Done:    "Rollout " + short(r.ID) + " aborted."})
}
