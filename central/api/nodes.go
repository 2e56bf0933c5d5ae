package api

import (
	"net/http"
	"sort"
	"strings"

	"github.com/tether-edge/tether/central/structs"
)

func (s *server) listNodes(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableNodes)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.Node
	for _, n := range s.b.State().Nodes() {
		if strings.HasPrefix(n.ID, prefix) {
			out = append(out, n)
		}
	}
	return writeJSON(w, idx, nonNil(out))
}

// lookupNode finds a node by full ID or unique ID prefix.
func (s *server) lookupNode(id string) (*structs.Node, error) {
	st := s.b.State()
	if n := st.NodeByID(id); n != nil {
		return n, nil
	}
	var ids []string
	var match *structs.Node
	for _, n := range st.Nodes() {
		if strings.HasPrefix(n.ID, id) {
			ids = append(ids, n.ID)
			match = n
		}
	}
	switch len(ids) {
	case 0:
		return nil, notFound("node %q not found", id)
	case 1:
		return match, nil
	}
	return nil, ambiguous("node", id, ids)
}

func ambiguous(what, prefix string, ids []string) error {
	sort.Strings(ids)
	return badRequest("%s prefix %q matches %d %ss: %s; give more characters", what, prefix, len(ids), what, strings.Join(ids, ", "))
}

func (s *server) getNode(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableNodes)
	if err != nil {
		return err
	}
	n, err := s.lookupNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, idx, n)
}

func (s *server) nodeAllocs(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableAllocs)
	if err != nil {
		return err
	}
	n, err := s.lookupNode(r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, idx, nonNil(readableAllocs(r, s.b.State().AllocsByNode(n.ID))))
}
