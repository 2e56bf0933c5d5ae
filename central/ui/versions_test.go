package ui_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

var versionRow = regexp.MustCompile(`<tr class="version">\s*<td>(\d+)</td><td[^>]*>([^<]*(?:<span class="muted">no</span>)?)</td>`)

// docs/ui.md: the job page lists the job's kept versions, newest first,
// with the stable ones marked.
func TestJobPageShowsVersions(t *testing.T) {
	b, srv := seeded(t)
	v4 := &jobspec.Job{ID: "web", Namespace: "default", Type: "service", Datacenters: []string{"dc2"}, Stable: true,
		TaskGroups: []*jobspec.TaskGroup{{Name: "g", Count: 4, Tasks: []*jobspec.Task{{Name: "server", Driver: "exec"}}}}}
	if _, _, err := b.SubmitJob(t.Context(), v4); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, srv.URL+"/ui/jobs/web")
	if code != 200 {
		t.Fatalf("HTTP %d\n%s", code, body)
	}
	rows := versionRow.FindAllStringSubmatch(body, -1)
	if len(rows) != 2 || rows[0][1] != "4" || rows[1][1] != "3" {
		t.Fatalf("version rows %v, want 4 then 3\n%s", rows, body)
	}
	if rows[0][2] != "stable" || !strings.Contains(rows[1][2], "no") {
		t.Errorf("stable column: %q, %q, want stable then no", rows[0][2], rows[1][2])
	}
	if !strings.Contains(body, "g × 4") || !strings.Contains(body, "g × 1") {
		t.Errorf("group counts of each version missing\n%s", body)
	}
}
