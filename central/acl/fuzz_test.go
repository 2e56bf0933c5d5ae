package acl

import (
	"os"
	"regexp"
	"testing"
)

// locatedErr is how every policy error starts: the file and the line, or
// the file alone for what concerns it as a whole ("has no rules").
var locatedErr = regexp.MustCompile(`^acl: invalid policy: policy\.hcl(:[0-9]+:)? `)

// FuzzPolicyErrorsLocated checks that every error about a policy file
// names the file and the line (or the file, for an empty one), so an operator can find the mistake, and
// that a policy that parses gives the same answers when parsed again.
func FuzzPolicyErrorsLocated(f *testing.F) {
	if src, err := os.ReadFile("testdata/tutorial.hcl"); err == nil {
		f.Add(src)
	}
	f.Add([]byte("namespace \"prod-*\" {\n  policy = \"read\"\n  capabilities = [\"read-logs\"]\n}\nnode { policy = \"write\" }\n"))
	f.Add([]byte(`namespace "a" { policy = "bogus" }`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse("policy.hcl", b)
		if err != nil {
			if !locatedErr.MatchString(err.Error()) {
				t.Fatalf("error without policy.hcl:<line>: %v", err)
			}
			return
		}
		again, err := Parse("policy.hcl", b)
		if err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
		a, c := Compile([]*Rules{r}), Compile([]*Rules{again})
		for _, ns := range []string{"default", "prod-web", ""} {
			for _, cp := range []string{CapReadJob, CapSubmitJob, CapReadLogs, CapAllocLifecycle} {
				if a.AllowNamespace(ns, cp) != c.AllowNamespace(ns, cp) {
					t.Fatalf("namespace %q %s: answers differ between two parses", ns, cp)
				}
			}
		}
	})
}
