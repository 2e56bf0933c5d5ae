package api

import "net/http"

// The cluster endpoints read no table; they report the jobs table's index
// in X-Tether-Index so that every response carries one, and they do not
// block.

func (s *server) leader(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, s.b.State().Index(tableJobs), s.b.Leader())
}

func (s *server) members(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, s.b.State().Index(tableJobs), map[string][]Member{"members": nonNil(s.b.Members())})
}

func (s *server) self(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, s.b.State().Index(tableJobs), s.b.Self())
}
