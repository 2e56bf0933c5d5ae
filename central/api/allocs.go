package api

import (
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
	return writeJSON(w, idx, nonNil(out))
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
	out := []*structs.Allocation{}
	for _, a := range st.AllocsByJob(e.Namespace, e.JobID) {
		if a.EvalID == e.ID {
			out = append(out, a)
		}
	}
	return writeJSON(w, idx, out)
}
