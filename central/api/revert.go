package api

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// ErrConflict is wrapped by a Backend write made on a condition that no
// longer holds (a revert's EnforcePriorVersion, or a job that changed
// between the check and the write): it is answered 409 with the error's
// text.
var ErrConflict = errors.New("conflict")

// maxRevertBody bounds POST /v1/job/<id>/revert's body: two numbers.
const maxRevertBody = 4 << 10

// RevertRequest is the body of POST /v1/job/<id>/revert. JobVersion and
// EnforcePriorVersion, Nomad's spellings, are accepted too.
type RevertRequest struct {
	JobVersion          *uint64 `json:"job_version,omitempty"`
	EnforcePriorVersion *uint64 `json:"enforce_prior_version,omitempty"`

	NomadJobVersion          *uint64 `json:"JobVersion,omitempty"`
	NomadEnforcePriorVersion *uint64 `json:"EnforcePriorVersion,omitempty"`
}

// versions folds Nomad's spellings into ours.
func (q *RevertRequest) versions() (version uint64, prior *uint64, err error) {
	if q.JobVersion != nil && q.NomadJobVersion != nil {
		return 0, nil, badRequest("request body has both \"job_version\" and \"JobVersion\": send one")
	}
	if q.EnforcePriorVersion != nil && q.NomadEnforcePriorVersion != nil {
		return 0, nil, badRequest("request body has both \"enforce_prior_version\" and \"EnforcePriorVersion\": send one")
	}
	v := q.JobVersion
	if v == nil {
		v = q.NomadJobVersion
	}
	if v == nil {
		return 0, nil, badRequest("request body has no \"job_version\": send {\"job_version\": N} with N from GET /v1/job/<id>/versions")
	}
	prior = q.EnforcePriorVersion
	if prior == nil {
		prior = q.NomadEnforcePriorVersion
	}
	return *v, prior, nil
}

// revertJob registers a copy of one kept version of a job as its newest
// version, as Nomad's job revert does. The checks here answer the usual
// mistakes with 404/400/409; the Backend checks again against the state
// it writes to.
func (s *server) revertJob(w http.ResponseWriter, r *http.Request) error {
	var req RevertRequest
	if err := decodeBody(w, r, &req, maxRevertBody); err != nil {
		return err
	}
	version, prior, err := req.versions()
	if err != nil {
		return err
	}
	cur, err := s.lookupJob(r)
	if err != nil {
		return err
	}
	if prior != nil && *prior != cur.Version {
		return &httpError{code: http.StatusConflict, err: ErrConflict,
			msg: fmt.Sprintf("job %q is at version %d, not %d (enforce_prior_version): read its history again and retry", cur.ID, cur.Version, *prior)}
	}
	if version == cur.Version {
		return badRequest("version %d is job %q's current version: nothing to revert (pick an older one from `central job history %s`)", version, cur.ID, cur.ID)
	}
	found := false
	var kept []uint64
	for _, v := range s.b.State().JobVersions(cur.Namespace, cur.ID) {
		kept = append(kept, v.Version)
		found = found || v.Version == version
	}
	if !found {
		sort.Slice(kept, func(a, b int) bool { return kept[a] > kept[b] })
		ks := make([]string, len(kept))
		for i, k := range kept {
			ks[i] = strconv.FormatUint(k, 10)
		}
		return notFound("job %q has no version %d any more (kept versions: %s): pick one of those", cur.ID, version, strings.Join(ks, ", "))
	}
	evalID, idx, err := s.b.RevertJob(r.Context(), cur.Namespace, cur.ID, version, prior)
	if err != nil {
		return err
	}
	return writeJSON(w, idx, SubmitResponse{EvalID: evalID, JobModifyIndex: idx})
}
