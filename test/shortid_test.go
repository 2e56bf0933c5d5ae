package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real CLI takes the short IDs it prints: `eval status` and `node
// revoke` with 8 characters, `job status` with a prefix of the job's name;
// a misspelt command gets the nearest one.
func TestCLIShortIDs(t *testing.T) {
	c, token := startAuthCentral(t)
	tokFile := filepath.Join(c.dir, "join-token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.startAgent("short", "-join-token-file", tokFile, "-central", "http://"+c.http)
	n := c.waitNode("short", "ready", 30*time.Second)
	if out, code := c.cli("job", "submit", "-detach", devJob(t, "shortid")); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var evals []struct {
		ID string `json:"id"`
	}
	eventually(t, 10*time.Second, func() error {
		if err := c.get("/v1/job/shortid/evaluations", &evals); err != nil {
			return err
		}
		if len(evals) == 0 {
			return fmt.Errorf("no evaluation yet")
		}
		return nil
	})
	if out, code := c.cli("eval", "status", evals[0].ID[:8]); code != 0 || !strings.Contains(out, evals[0].ID[:8]) || !strings.Contains(out, "shortid") {
		t.Errorf("eval status %s exited %d:\n%s", evals[0].ID[:8], code, out)
	}
	if out, code := c.cli("job", "status", "shorti"); code != 0 || !strings.Contains(out, "shortid") {
		t.Errorf("job status shorti exited %d:\n%s", code, out)
	}
	if out, code := c.cli("jbo", "status"); code != 2 || !strings.Contains(out, `Did you mean "job status"?`) {
		t.Errorf("jbo status exited %d:\n%s", code, out)
	}
	// The job stops while the agent can still report it (revoked, it cannot).
	if out, code := c.cli("job", "stop", "shortid"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	if out, code := c.cli("node", "revoke", n.ID[:8]); code != 0 {
		t.Fatalf("node revoke %s exited %d:\n%s", n.ID[:8], code, out)
	}
	if out, code := c.cli("node", "revoke", n.ID[:8]); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("second node revoke %s exited %d:\n%s", n.ID[:8], code, out)
	}
}
