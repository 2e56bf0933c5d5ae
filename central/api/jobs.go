package api

import (
	"github.com/tether-edge/tether/central/acl"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// GroupSummary counts a task group's allocations by client status; Queued
// is what the job's latest evaluation could not place yet.
type GroupSummary = structs.TaskGroupSummary

// JobSummary answers GET /v1/job/<id>/summary.
type JobSummary struct {
	JobID     string                   `json:"job_id"`
	Namespace string                   `json:"namespace"`
	Summary   map[string]*GroupSummary `json:"summary"`
}

// JobListEntry is one element of GET /v1/jobs: the job plus its summary.
type JobListEntry struct {
	*jobspec.Job
	Summary map[string]*GroupSummary `json:"summary"`
}

func namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return "default"
}

func (s *server) summarize(job *jobspec.Job) (map[string]*GroupSummary, []*structs.Allocation) {
	st := s.b.State()
	allocs := st.AllocsByJob(job.Namespace, job.ID)
	var latest *structs.Evaluation
	for _, e := range st.EvalsByJob(job.Namespace, job.ID) {
		if latest == nil || e.CreateIndex > latest.CreateIndex {
			latest = e
		}
	}
	return structs.SummarizeGroups(job, allocs, latest), allocs
}

// withStatus returns job with Status filled in when the store left it
// empty: running while any allocation is live, dead once stopped (or a
// finished batch job), pending otherwise.
func withStatus(job *jobspec.Job, allocs []*structs.Allocation) *jobspec.Job {
	if job.Status != "" {
		return job
	}
	cp := *job
	live, placed := false, len(allocs) > 0
	for _, a := range allocs {
		if !a.Terminal() {
			live = true
		}
	}
	switch {
	case live:
		cp.Status = jobspec.JobStatusRunning
	case job.Stop, placed && jobspec.RunsToCompletion(job.Type):
		cp.Status = jobspec.JobStatusDead
	default:
		cp.Status = jobspec.JobStatusPending
	}
	return &cp
}

func (s *server) listJobs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableJobs)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	ns := namespace(r)
	if ns == "*" {
		ns = "" // every namespace, in the Reader's terms
	}
	jobs := s.b.State().Jobs(ns)
	out := make([]JobListEntry, 0, len(jobs))
	for _, j := range jobs {
		if !strings.HasPrefix(j.ID, prefix) || !canNS(r, j.Namespace, acl.CapListJobs) {
			continue
		}
		sum, allocs := s.summarize(j)
		out = append(out, JobListEntry{Job: withStatus(j, allocs), Summary: sum})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Namespace != out[b].Namespace {
			return out[a].Namespace < out[b].Namespace
		}
		return out[a].ID < out[b].ID
	})
	return writeJSON(w, idx, out)
}

func (s *server) lookupJob(r *http.Request) (*jobspec.Job, error) {
	ns, id := namespace(r), r.PathValue("id")
	j := s.b.State().JobByID(ns, id)
	if j == nil {
		return nil, notFound("job %q not found in namespace %q", id, ns)
	}
	return j, nil
}

func (s *server) getJob(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableJobs)
	if err != nil {
		return err
	}
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, withNextLaunch(withStatus(j, s.b.State().AllocsByJob(j.Namespace, j.ID)))) // periodic.go
}

func (s *server) jobAllocs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, nonNil(s.b.State().AllocsByJob(namespace(r), r.PathValue("id"))))
}

func (s *server) jobEvals(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableEvals)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, nonNil(s.b.State().EvalsByJob(namespace(r), r.PathValue("id"))))
}

func (s *server) jobVersions(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableJobs)
	if err != nil {
		return err
	}
	vs := s.b.State().JobVersions(namespace(r), r.PathValue("id"))
	if len(vs) == 0 {
		return notFound("job %q not found in namespace %q", r.PathValue("id"), namespace(r))
	}
	vs = append([]*jobspec.Job(nil), vs...)
	sort.Slice(vs, func(a, b int) bool { return vs[a].Version > vs[b].Version })
	return writeJSON(w, idx, map[string][]*jobspec.Job{"versions": vs})
}

func (s *server) jobSummary(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	sum, _ := s.summarize(j)
	return writeJSON(w, idx, JobSummary{JobID: j.ID, Namespace: j.Namespace, Summary: sum})
}

func (s *server) stopJob(w http.ResponseWriter, r *http.Request) error {
	purge := false
	if p := r.URL.Query().Get("purge"); p != "" {
		var err error
		if purge, err = strconv.ParseBool(p); err != nil {
			return badRequest("purge %q: want true or false", p)
		}
	}
	j, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	evalID, idx, err := s.b.StopJob(r.Context(), j.Namespace, j.ID, purge)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, SubmitResponse{EvalID: evalID, JobModifyIndex: idx})
}

// nonNil makes a nil list render as [] (emptySlices does too; this keeps
// the intent visible at the call site).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
