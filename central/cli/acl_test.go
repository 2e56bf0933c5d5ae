package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const tutorialPolicyHCL = `agent {
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

// secretOf extracts the Secret ID the way the tutorial does:
// grep -i secret | awk -F '=' '{print $2}'.
func secretOf(t *testing.T, out string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(strings.ToLower(line), "secret") {
			if _, v, ok := strings.Cut(line, "="); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	t.Fatalf("no Secret ID line in:\n%s", out)
	return ""
}

func TestACLVerbs(t *testing.T) {
	c := newCluster(t)
	c.b.ACL = true
	code, out, errOut := c.run(t, "acl", "bootstrap")
	if code != 0 || !strings.Contains(out, "Accessor ID") || !strings.Contains(out, "Type         = management") {
		t.Fatalf("bootstrap: %d\n%s%s", code, out, errOut)
	}
	mgmt := secretOf(t, out)
	if code, _, errOut := c.run(t, "acl", "bootstrap"); code != 1 || !strings.Contains(errOut, "reset index") {
		t.Errorf("second bootstrap: %d %s", code, errOut)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "nomad-acl-user.hcl")
	os.WriteFile(file, []byte(tutorialPolicyHCL), 0o600)
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("namespace \"*\" {\n  capabilities = [\"submit-jobs\"]\n}\n"), 0o600)

	run := func(args ...string) (int, string, string) {
		var o, e syncBuffer
		code := Run(args, &o, &e, c.env("CENTRAL_TOKEN", mgmt))
		return code, o.String(), e.String()
	}
	if code, out, errOut := run("acl", "policy", "apply", "-description", "Policy to allow reading of agents and nodes and listing and submitting jobs in all namespaces.", "node-read-job-submit", file); code != 0 || out != "Successfully wrote \"node-read-job-submit\" ACL policy!\n" {
		t.Fatalf("policy apply: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := run("acl", "policy", "apply", "bad", bad); code != 1 || !strings.Contains(errOut, "bad.hcl:2") || !strings.Contains(errOut, `"submit-jobs"`) {
		t.Errorf("bad policy file: %d %s, want file:line", code, errOut)
	}
	if code, out, _ := run("acl", "policy", "list"); code != 0 || !strings.Contains(out, "node-read-job-submit") {
		t.Errorf("policy list: %d %s", code, out)
	}
	if code, out, _ := run("acl", "policy", "info", "node-read-job-submit"); code != 0 || !strings.Contains(out, `namespace "*"`) {
		t.Errorf("policy info: %d %s", code, out)
	}

	code, out, errOut = run("acl", "token", "create", "-name", "read-token", "-policy", "node-read-job-submit")
	if code != 0 || !strings.Contains(out, "Policies     = node-read-job-submit") {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	client := secretOf(t, out)
	accessor := regexp.MustCompile(`Accessor ID\s+= (\S+)`).FindStringSubmatch(out)[1]
	code, out, _ = run("acl", "token", "create", "-type=management", "-global=true", "-name=Replication Token")
	if code != 0 || !strings.Contains(out, "Type         = management") {
		t.Errorf("management token create: %d %s", code, out)
	}
	if code, _, errOut := run("acl", "token", "create", "-name", "x"); code != exitUsage || !strings.Contains(errOut, "-policy") {
		t.Errorf("client token without policy: %d %s", code, errOut)
	}
	if code, out, _ := run("acl", "token", "list"); code != 0 || !strings.Contains(out, "read-token") || strings.Contains(out, client) {
		t.Errorf("token list: %d %s (must not show secrets)", code, out)
	}
	if code, out, _ := run("acl", "token", "info", accessor); code != 0 || !strings.Contains(out, "Secret ID    = <hidden>") {
		t.Errorf("token info: %d %s", code, out)
	}

	// The client token reads nodes but may not drain them.
	var o, e syncBuffer
	if code := Run([]string{"acl", "token", "self"}, &o, &e, c.env("CENTRAL_TOKEN", client)); code != 0 || !strings.Contains(o.String(), "read-token") {
		t.Errorf("token self: %d %s %s", code, o.String(), e.String())
	}
	if c.lastToken() != client {
		t.Errorf("CLI sent token %q, want the client secret", c.lastToken())
	}
	o, e = syncBuffer{}, syncBuffer{}
	if code := Run([]string{"acl", "token", "list"}, &o, &e, c.env("CENTRAL_TOKEN", client)); code != 1 || !strings.Contains(e.String(), "management") || !strings.Contains(e.String(), "403") {
		t.Errorf("token list with a client token: %d %s", code, e.String())
	}

	if code, out, _ := run("acl", "token", "delete", accessor); code != 0 || !strings.Contains(out, "successfully deleted") {
		t.Errorf("token delete: %d %s", code, out)
	}
	if code, out, _ := run("acl", "policy", "delete", "node-read-job-submit"); code != 0 || !strings.Contains(out, "Successfully deleted") {
		t.Errorf("policy delete: %d %s", code, out)
	}
	if code, _, errOut := run("acl", "policy", "delete", "node-read-job-submit"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("policy delete again: %d %s", code, errOut)
	}
}
