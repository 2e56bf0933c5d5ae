package ui_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// A dispatched child's ID has a slash: the links to its page escape it,
// and the page they lead to is the child's.
func TestChildJobLinks(t *testing.T) {
	b, srv := seeded(t)
	id := "render/dispatch-1764936000-3f2a9c1e"
	child := &jobspec.Job{ID: id, ParentID: "render", Namespace: "default", Type: "batch", Datacenters: []string{"dc2"},
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 1, Tasks: []*jobspec.Task{{Name: "work", Driver: "exec"}}}}}
	if _, _, err := b.SubmitJob(t.Context(), child); err != nil {
		t.Fatal(err)
	}
	b.PutAlloc(&structs.Allocation{ID: "alloc-0009-cccc", Name: id + ".g[0]", NodeID: "node-0001", NodeName: "pi-kitchen", JobID: id, Namespace: "default",
		TaskGroup: "g", ClientStatus: "running", DesiredStatus: "run"})
	link := `href="/ui/jobs/` + url.PathEscape(id) + `?namespace=default"`
	for _, page := range []string{"/ui/jobs", "/ui/allocations/alloc-0009-cccc"} {
		code, body := get(t, srv.URL+page)
		if code != 200 || !strings.Contains(body, link) {
			t.Fatalf("%s: %d, no %s in:\n%s", page, code, link, body)
		}
	}
	code, body := get(t, srv.URL+"/ui/jobs/"+url.PathEscape(id)+"?namespace=default")
	if code != 200 || !strings.Contains(body, "alloc-000") {
		t.Fatalf("child's page: %d\n%s", code, body)
	}
}
