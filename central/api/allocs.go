package api

import (
	"github.com/tether-edge/tether/central/acl"
	"net/http"

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

// lookupAlloc finds an allocation by full ID or unique ID prefix.
func (s *server) lookupAlloc(id string) (*structs.Allocation, error) {
	st := s.b.State()
	if a := st.AllocByID(id); a != nil {
		return a, nil
	}
	matches := st.AllocsByIDPrefix(id)
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
	a, err := s.lookupAlloc(r.PathValue("id"))
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
	id := r.PathValue("id")
	e := s.b.State().EvalByID(id)
	if e == nil {
		return notFound("evaluation %q not found (give the full ID)", id)
	}
	if err := allowNS(r, evalNamespace(e), acl.CapReadJob); err != nil {
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
	id := r.PathValue("id")
	e := st.EvalByID(id)
	if e == nil {
		return notFound("evaluation %q not found (give the full ID)", id)
	}
	if err := allowNS(r, evalNamespace(e), acl.CapReadJob); err != nil {
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
