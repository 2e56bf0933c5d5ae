package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
)

func (s *server) listAllocs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	st := s.b.State()
	var out []*structs.Allocation
	if p := r.URL.Query().Get("prefix"); p != "" {
		out = st.AllocsByIDPrefix(p)
	} else {
		out = st.Allocs()
	}
	return writeJSON(w, idx, nonNil(readableAllocs(r, out)))
}

// lookupAlloc finds an allocation by full ID or unique ID prefix among
// those the request may see: read-job, or capability, in their namespace.
// The others are never considered: an ID or prefix that matches only them
// is "not found", as if they did not exist, and an ambiguous prefix lists
// only the IDs the request may see. A token that may see no allocation in
// any namespace is refused before the lookup.
func lookupAlloc(r *http.Request, st Reader, id, capability string) (*structs.Allocation, error) {
	z := authzOf(r)
	if z.err != nil || !z.acl.AllowAnyNamespace(acl.CapReadJob) && !z.acl.AllowAnyNamespace(capability) {
		return nil, forbidden(r, fmt.Sprintf("capability %q in any namespace", capability))
	}
	visible := func(a *structs.Allocation) bool {
		return canNS(r, a.Namespace, acl.CapReadJob) || canNS(r, a.Namespace, capability)
	}
	if a := st.AllocByID(id); a != nil && visible(a) {
		return a, nil
	}
	var matches []*structs.Allocation
	for _, a := range st.AllocsByIDPrefix(id) {
		if visible(a) {
			matches = append(matches, a)
		}
	}
	switch len(matches) {
	case 0:
		return nil, notFound("allocation %q not found", id)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, 0, len(matches))
	for _, a := range matches {
		ids = append(ids, a.ID)
	}
	return nil, ambiguous("allocation", id, ids)
}

func (s *server) getAlloc(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	a, err := lookupAlloc(r, s.b.State(), r.PathValue("id"), acl.CapReadJob)
	if err != nil {
		return err
	}
	if err := allowNS(r, a.Namespace, acl.CapReadJob); err != nil {
		return err
	}
	return writeJSON(w, idx, a)
}

func (s *server) getEval(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableEvals)
	if err != nil {
		return err
	}
	e, err := lookupEval(r, s.b.State(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, idx, e)
}

func (s *server) evalAllocs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	st := s.b.State()
	e, err := lookupEval(r, st, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := []*structs.Allocation{}
	for _, a := range st.AllocsByJob(e.Namespace, e.JobID) {
		if a.EvalID == e.ID {
			out = append(out, a)
		}
	}
	return writeJSON(w, idx, out)
}

// lookupEval finds an evaluation by full ID or unique ID prefix among
// those the request may see (read-job in its namespace): one it may not
// see is "not found", as if it did not exist, and an ambiguous prefix
// lists only visible IDs. A token that may read no namespace is refused
// before the lookup.
func lookupEval(r *http.Request, st Reader, id string) (*structs.Evaluation, error) {
	if err := allowNS(r, "*", acl.CapReadJob); err != nil {
		return nil, err
	}
	if e := st.EvalByID(id); e != nil && canNS(r, evalNamespace(e), acl.CapReadJob) {
		return e, nil
	}
	var ids []string
	for _, e := range st.Evals() {
		if strings.HasPrefix(e.ID, id) && canNS(r, evalNamespace(e), acl.CapReadJob) {
			ids = append(ids, e.ID)
		}
	}
	match, err := ResolveID("evaluation", id, "GET /v1/evaluations or central job status JOB", ids)
	if err != nil {
		return nil, err
	}
	return st.EvalByID(match), nil
}

// readableAllocs keeps the allocations whose namespace grants read-job.
func readableAllocs(r *http.Request, in []*structs.Allocation) []*structs.Allocation {
	if authzOf(r).acl.IsManagement() {
		return in
	}
	out := make([]*structs.Allocation, 0, len(in))
	for _, a := range in {
		if canNS(r, a.Namespace, acl.CapReadJob) {
			out = append(out, a)
		}
	}
	return out
}

// evalNamespace is an evaluation's namespace; node evaluations have none
// and count as "default".
func evalNamespace(e *structs.Evaluation) string {
	if e.Namespace == "" {
		return "default"
	}
	return e.Namespace
}
