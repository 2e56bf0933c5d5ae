package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tutorialACLPolicy is the edge tutorial's nomad-acl-user.hcl: read agents
// and nodes, list, read and submit jobs (and read logs) in every namespace.
const tutorialACLPolicy = `agent {
  policy = "read"
}

node {
  policy = "read"
}

namespace "*" {
  policy       = "read"
  capabilities = ["submit-job", "dispatch-job", "read-logs"]
}
`

// secretID parses a token's secret as the tutorial does:
// grep -i secret | awk -F '=' '{print $2}'.
func secretID(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "secret") {
			if f := strings.Split(line, "="); len(f) > 1 {
				return strings.TrimSpace(f[1])
			}
		}
	}
	t.Fatalf("no Secret ID in:\n%s", out)
	return ""
}

func TestACLTutorialFlow(t *testing.T) {
	c := startCentral(t, clusterOpts{acl: true})
	c.startAgent("edge-1") // agents speak MQTT: ACLs do not apply to them

	// Before the bootstrap nothing but the open endpoints answers.
	if out, code := c.cliToken("", "node", "status"); code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, "node read") {
		t.Fatalf("node status without a token exited %d:\n%s", code, out)
	}

	out, code := c.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	boot := secretID(t, out)
	if out, code := c.cliToken("", "acl", "bootstrap"); code == 0 || !strings.Contains(out, "reset index") {
		t.Errorf("second bootstrap exited %d:\n%s", code, out)
	}

	policy := filepath.Join(t.TempDir(), "nomad-acl-user.hcl")
	if err := os.WriteFile(policy, []byte(tutorialACLPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = c.cliToken("", "acl", "policy", "apply", "-token", boot, "-description",
		"Policy to allow reading of agents and nodes and listing and submitting jobs in all namespaces.", "node-read-job-submit", policy)
	if code != 0 || !strings.Contains(out, `Successfully wrote "node-read-job-submit" ACL policy!`) {
		t.Fatalf("acl policy apply exited %d:\n%s", code, out)
	}
	out, code = c.cliToken("", "acl", "token", "create", "-token", boot, "-name", "read-token", "-policy", "node-read-job-submit")
	if code != 0 {
		t.Fatalf("acl token create exited %d:\n%s", code, out)
	}
	user := secretID(t, out)
	out, code = c.cliToken("", "acl", "token", "create", "-token", boot, "-type=management", "-global=true", "-name=Replication Token")
	if code != 0 {
		t.Fatalf("management token create exited %d:\n%s", code, out)
	}
	mgmt := secretID(t, out)

	// The node registers over MQTT whatever the ACLs; the user token may read it.
	var nodeID string
	eventually(t, 20*time.Second, func() error {
		out, code := c.cliToken(user, "node", "status", "-json")
		if code != 0 {
			return fmt.Errorf("node status exited %d: %s", code, out)
		}
		var ns []node
		if err := json.Unmarshal([]byte(out), &ns); err != nil {
			return err
		}
		for _, n := range ns {
			if n.Name == "edge-1" && n.Status == "ready" {
				nodeID = n.ID
				return nil
			}
		}
		return fmt.Errorf("edge-1 not ready: %+v", ns)
	})

	// The user token submits and reads jobs ...
	work := t.TempDir()
	if out, code := c.cliToken(user, "job", "submit", writerJob(t, work, 1)); code != 0 {
		t.Fatalf("job submit with the user token exited %d:\n%s", code, out)
	}
	readPid(t, filepath.Join(work, "pid-0"))
	if out, code := c.cliToken(user, "job", "status", "writer"); code != 0 {
		t.Errorf("job status with the user token exited %d:\n%s", code, out)
	}
	if out, code := c.cliToken(user, "server", "members"); code != 0 {
		t.Errorf("server members (agent read) exited %d:\n%s", code, out)
	}
	// ... but may not drain a node, manage ACLs or run operator commands.
	for _, args := range [][]string{
		{"node", "drain", "-enable", "-detach", "-yes", nodeID},
		{"acl", "token", "list"},
		{"operator", "raft", "list-peers"},
	} {
		out, code := c.cliToken(user, args...)
		if code == 0 || !strings.Contains(out, "Permission denied") || !strings.Contains(out, "403") {
			t.Errorf("central %s with the user token exited %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if out, _ := c.cliToken(user, "node", "drain", "-enable", "-detach", nodeID); !strings.Contains(out, "node write") {
		t.Errorf("drain refusal does not name the missing permission:\n%s", out)
	}
	// Without a token, or with a wrong one: 403.
	if out, code := c.cliToken("", "job", "status"); code == 0 || !strings.Contains(out, `"list-jobs"`) {
		t.Errorf("job status without a token exited %d:\n%s", code, out)
	}
	if out, code := c.cliToken("00000000-0000-4000-8000-000000000000", "job", "status"); code == 0 || !strings.Contains(out, "matches no token") {
		t.Errorf("job status with a wrong token exited %d:\n%s", code, out)
	}
	// The management token may do everything.
	for _, args := range [][]string{
		{"operator", "raft", "list-peers"},
		{"acl", "token", "list"},
		{"node", "drain", "-enable", "-detach", "-yes", nodeID},
		{"job", "stop", "writer"},
	} {
		if out, code := c.cliToken(mgmt, args...); code != 0 {
			t.Errorf("central %s with the management token exited %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
}
