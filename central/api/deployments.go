package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
)

// Deployments (docs/api.md "Deployments"): reads need read-job in the
// deployment's namespace, writes submit-job. A deployment's JSON is
// structs.Deployment.

const tableDeployments = "deployments"

// maxDeploymentBody bounds the body of a deployment write: {"pause": true}.
const maxDeploymentBody = 4 << 10

// DeploymentReader is the part of the state that knows deployments.
// central/state's *Store satisfies it.
type DeploymentReader interface {
	DeploymentByID(id string) *structs.Deployment
	DeploymentsByIDPrefix(prefix string) []*structs.Deployment
	// Deployments returns namespace ns's deployments ("" = all), newest first.
	Deployments(ns string) []*structs.Deployment
	// DeploymentsByJob returns a job's deployments, newest first.
	DeploymentsByJob(ns, jobID string) []*structs.Deployment
	AllocsByDeployment(id string) []*structs.Allocation
}

// DeploymentAction is one operator write on a deployment.
type DeploymentAction struct {
	Promote bool
	Fail    bool
	Pause   *bool // pause (true) or resume (false)
	// Healthy and Unhealthy set allocations' health by hand (a group
	// with health_check = "manual").
	Healthy, Unhealthy []string
}

// DeploymentBackend carries out deployment writes on the leader.
type DeploymentBackend interface {
	UpdateDeployment(ctx context.Context, id string, act DeploymentAction) (DeploymentUpdateResponse, error)
}

// DeploymentUpdateResponse answers a deployment write (Nomad's fields).
type DeploymentUpdateResponse struct {
	EvalID                string `json:"eval_id,omitempty"`
	DeploymentModifyIndex uint64 `json:"deployment_modify_index"`
	// RevertedJobVersion is set when failing the deployment registered a
	// copy of this stable version (auto_revert).
	RevertedJobVersion *uint64 `json:"reverted_job_version,omitempty"`
}

// deploymentRequest is the body of a deployment write; every field is
// optional ({} or no body at all for promote and fail).
type deploymentRequest struct {
	Pause *bool `json:"pause,omitempty"`
	// POST /v1/deployment/allocation-health/<id>
	HealthyAllocationIDs   []string `json:"healthy_allocation_ids,omitempty"`
	UnhealthyAllocationIDs []string `json:"unhealthy_allocation_ids,omitempty"`
}

func (s *server) deploymentRoutes(route func(string, map[string]handlerFunc)) {
	post := func(h handlerFunc) map[string]handlerFunc {
		return map[string]handlerFunc{http.MethodPost: s.guard(open, h), http.MethodPut: s.guard(open, h)}
	}
	route("/v1/deployments", map[string]handlerFunc{http.MethodGet: s.guard(open, s.listDeployments)}) // filtered by read-job
	route("/v1/deployment/{id}", map[string]handlerFunc{http.MethodGet: s.guard(open, s.getDeployment)})
	route("/v1/deployment/allocations/{id}", map[string]handlerFunc{http.MethodGet: s.guard(open, s.deploymentAllocs)})
	route("/v1/job/{id}/deployments", map[string]handlerFunc{http.MethodGet: s.guard(nsCap(acl.CapReadJob), s.jobDeployments)})
	route("/v1/job/{id}/deployment", map[string]handlerFunc{http.MethodGet: s.guard(nsCap(acl.CapReadJob), s.jobLatestDeployment)})
	// submit-job in the deployment's namespace, checked after the lookup
	// and before the body is read.
	route("/v1/deployment/promote/{id}", post(s.deploymentWrite("promote")))
	route("/v1/deployment/fail/{id}", post(s.deploymentWrite("fail")))
	route("/v1/deployment/pause/{id}", post(s.deploymentWrite("pause")))
	route("/v1/deployment/allocation-health/{id}", post(s.deploymentWrite("allocation-health")))
}

func (s *server) deployments() (DeploymentReader, error) {
	dr, ok := s.b.State().(DeploymentReader)
	if !ok {
		return nil, &httpError{code: http.StatusNotImplemented, msg: "this server keeps no deployments", err: errNotFound}
	}
	return dr, nil
}

func (s *server) listDeployments(w http.ResponseWriter, r *http.Request) error {
	dr, err := s.deployments()
	if err != nil {
		return err
	}
	idx, err := s.block(r, tableDeployments)
	if err != nil {
		return err
	}
	ns := namespace(r)
	if ns == "*" {
		ns = ""
	}
	prefix := r.URL.Query().Get("prefix")
	out := []*structs.Deployment{}
	for _, d := range dr.Deployments(ns) {
		if strings.HasPrefix(d.ID, prefix) && canNS(r, d.Namespace, acl.CapReadJob) {
			out = append(out, d)
		}
	}
	return writeJSON(w, idx, out)
}

// lookupDeployment finds a deployment by ID (or a unique ID prefix) and
// checks capability in its namespace.
func (s *server) lookupDeployment(r *http.Request, capability string) (*structs.Deployment, error) {
	dr, err := s.deployments()
	if err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	d := dr.DeploymentByID(id)
	if d == nil && id != "" {
		var match []*structs.Deployment
		var ids []string
		for _, c := range dr.DeploymentsByIDPrefix(id) {
			if canNS(r, c.Namespace, acl.CapReadJob) {
				match = append(match, c)
				ids = append(ids, c.ID)
			}
		}
		switch len(match) {
		case 1:
			d = match[0]
		case 0:
		default:
			return nil, ambiguous("deployment", id, ids)
		}
	}
	if d == nil {
		return nil, notFound("deployment %q not found: list them with GET /v1/deployments", id)
	}
	if err := allowNS(r, d.Namespace, capability); err != nil {
		if capability == acl.CapReadJob {
			return nil, notFound("deployment %q not found: list them with GET /v1/deployments", id) // do not reveal it exists
		}
		return nil, err
	}
	return d, nil
}

func (s *server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableDeployments)
	if err != nil {
		return err
	}
	d, err := s.lookupDeployment(r, acl.CapReadJob)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, d)
}

func (s *server) deploymentAllocs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	d, err := s.lookupDeployment(r, acl.CapReadJob)
	if err != nil {
		return err
	}
	dr, _ := s.deployments()
	return writeJSON(w, idx, nonNil(dr.AllocsByDeployment(d.ID)))
}

func (s *server) jobDeployments(w http.ResponseWriter, r *http.Request) error {
	dr, err := s.deployments()
	if err != nil {
		return err
	}
	idx, err := s.block(r, tableDeployments)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, nonNil(dr.DeploymentsByJob(namespace(r), r.PathValue("id"))))
}

// jobLatestDeployment is Nomad's GET /v1/job/<id>/deployment: the newest,
// or null.
func (s *server) jobLatestDeployment(w http.ResponseWriter, r *http.Request) error {
	dr, err := s.deployments()
	if err != nil {
		return err
	}
	idx, err := s.block(r, tableDeployments)
	if err != nil {
		return err
	}
	ds := dr.DeploymentsByJob(namespace(r), r.PathValue("id"))
	if len(ds) == 0 {
		return writeJSON(w, idx, nil)
	}
	return writeJSON(w, idx, ds[0])
}

func (s *server) deploymentWrite(action string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		d, err := s.lookupDeployment(r, acl.CapSubmitJob)
		if err != nil {
			closeUnread(w, r)
			return err
		}
		var req deploymentRequest
		if r.ContentLength != 0 {
			if err := decodeBody(w, r, &req, maxDeploymentBody); err != nil && !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") {
				return err
			}
		}
		var act DeploymentAction
		switch action {
		case "promote":
			act.Promote = true
		case "fail":
			act.Fail = true
		case "pause":
			if req.Pause == nil {
				return badRequest(`request body has no "pause": send {"pause": true} to pause or {"pause": false} to resume`)
			}
			act.Pause = req.Pause
		case "allocation-health":
			if len(req.HealthyAllocationIDs)+len(req.UnhealthyAllocationIDs) == 0 {
				return badRequest(`request body names no allocation: send {"healthy_allocation_ids": [...], "unhealthy_allocation_ids": [...]}`)
			}
			act.Healthy, act.Unhealthy = req.HealthyAllocationIDs, req.UnhealthyAllocationIDs
		}
		db, ok := s.b.(DeploymentBackend)
		if !ok {
			return &httpError{code: http.StatusNotImplemented, msg: "this server cannot change deployments", err: errNotFound}
		}
		resp, err := db.UpdateDeployment(r.Context(), d.ID, act)
		if err != nil {
			return err
		}
		return writeJSON(w, resp.DeploymentModifyIndex, resp)
	}
}
