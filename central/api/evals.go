package api

import (
	"net/http"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
)

// listEvals answers GET /v1/evaluations[?prefix=ID]: every evaluation the
// token may read (read-job in its namespace), sorted by ID.
func (s *server) listEvals(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableEvals)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	mgmt := authzOf(r).acl.IsManagement()
	out := []*structs.Evaluation{}
	for _, e := range s.b.State().Evals() {
		if strings.HasPrefix(e.ID, prefix) && (mgmt || canNS(r, evalNamespace(e), acl.CapReadJob)) {
			out = append(out, e)
		}
	}
	return writeJSON(w, idx, out)
}
