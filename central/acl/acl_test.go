package acl

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, src string) *Rules {
	t.Helper()
	r, err := Parse("p.hcl", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func TestTutorialPolicy(t *testing.T) {
	src, err := os.ReadFile("testdata/tutorial.hcl")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Parse("nomad-acl-user.hcl", src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	a := Compile([]*Rules{r})
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"submit-job default", a.AllowNamespace("default", CapSubmitJob), true},
		{"submit-job prod", a.AllowNamespace("prod", CapSubmitJob), true},
		{"read-job any", a.AllowNamespace("edge-7", CapReadJob), true},
		{"list-jobs", a.AllowNamespace("default", CapListJobs), true},
		{"read-logs", a.AllowNamespace("default", CapReadLogs), true},
		{"alloc-lifecycle (write only)", a.AllowNamespace("default", CapAllocLifecycle), false},
		{"node read", a.AllowNode(Read), true},
		{"node write", a.AllowNode(Write), false},
		{"agent read", a.AllowAgent(Read), true},
		{"agent write", a.AllowAgent(Write), false},
		{"operator read", a.AllowOperator(Read), false},
		{"operator write", a.AllowOperator(Write), false},
		{"management", a.IsManagement(), false},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		name     string
		policies []string
		check    func(a *ACL) bool
		want     bool
	}{
		{"exact wins over glob", []string{`namespace "*" { policy = "write" }
namespace "prod" { policy = "read" }`}, func(a *ACL) bool { return a.AllowNamespace("prod", CapSubmitJob) }, false},
		{"glob still applies elsewhere", []string{`namespace "*" { policy = "write" }
namespace "prod" { policy = "read" }`}, func(a *ACL) bool { return a.AllowNamespace("dev", CapSubmitJob) }, true},
		{"closest glob wins", []string{`namespace "*" { policy = "write" }
namespace "prod-*" { policy = "read" }`}, func(a *ACL) bool { return a.AllowNamespace("prod-eu", CapSubmitJob) }, false},
		{"deny wins in merge", []string{`namespace "default" { policy = "write" }`, `namespace "default" { policy = "deny" }`},
			func(a *ACL) bool { return a.AllowNamespace("default", CapReadJob) }, false},
		{"deny capability", []string{`namespace "default" {
policy = "write"
capabilities = ["deny"]
}`}, func(a *ACL) bool { return a.AllowNamespace("default", CapReadJob) }, false},
		{"merge unions capabilities", []string{`namespace "default" { capabilities = ["read-job"] }`, `namespace "default" { capabilities = ["submit-job"] }`},
			func(a *ACL) bool {
				return a.AllowNamespace("default", CapReadJob) && a.AllowNamespace("default", CapSubmitJob)
			}, true},
		{"unmatched namespace", []string{`namespace "default" { policy = "write" }`},
			func(a *ACL) bool { return a.AllowNamespace("other", CapReadJob) }, false},
		{"write implies read", []string{`node { policy = "write" }`}, func(a *ACL) bool { return a.AllowNode(Read) }, true},
		{"node deny wins", []string{`node { policy = "write" }`, `node { policy = "deny" }`}, func(a *ACL) bool { return a.AllowNode(Read) }, false},
		{"operator write", []string{`operator { policy = "write" }`}, func(a *ACL) bool { return a.AllowOperator(Write) }, true},
		{"node list is read", []string{`node { policy = "list" }`}, func(a *ACL) bool { return a.AllowNode(Read) && !a.AllowNode(Write) }, true},
		{"scale policy", []string{`namespace "*" { policy = "scale" }`}, func(a *ACL) bool {
			return a.AllowNamespace("x", CapScaleJob) && !a.AllowNamespace("x", CapSubmitJob)
		}, true},
		{"any namespace", []string{`namespace "team-*" { policy = "read" }`}, func(a *ACL) bool { return a.AllowAnyNamespace(CapListJobs) }, true},
		{"no rules for agent", []string{`namespace "*" { policy = "write" }`}, func(a *ACL) bool { return a.AllowAgent(Read) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rs []*Rules
			for _, p := range tc.policies {
				rs = append(rs, mustParse(t, p))
			}
			if got := tc.check(Compile(rs)); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestManagementAndNil(t *testing.T) {
	if !Management.AllowNamespace("x", CapSubmitJob) || !Management.AllowOperator(Write) || !Management.AllowNode(Write) || !Management.AllowAgent(Write) {
		t.Error("management token must allow everything")
	}
	var a *ACL
	if a.AllowNamespace("x", CapReadJob) || a.AllowAgent(Read) || a.IsManagement() {
		t.Error("nil ACL must deny everything")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"bad policy", "namespace \"*\" {\n  policy = \"admin\"\n}", `p.hcl:2: namespace "*": policy "admin"`},
		{"bad capability", "namespace \"*\" {\n\n  capabilities = [\"submit-jobs\"]\n}", `p.hcl:3: namespace "*": unknown capability "submit-jobs"`},
		{"bad node policy", "node {\n policy = \"scale\"\n}", `p.hcl:2: node policy "scale"`},
		{"unknown block", "\nquota {\n policy = \"read\"\n}", `p.hcl:2: unsupported block "quota"`},
		{"unknown attribute", "policy = \"read\"", `p.hcl:1: unknown attribute "policy"`},
		{"syntax", "namespace \"*\" {\n policy = \n}", "p.hcl:2"},
		{"empty", "", "has no rules"},
		{"namespace grants nothing", `namespace "x" {}`, `namespace "x" grants nothing`},
		{"capabilities not a list", "namespace \"x\" {\n capabilities = \"read-job\"\n}", "p.hcl:2: capabilities: want a list"},
		{"missing label", `namespace { policy = "read" }`, "p.hcl:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.hcl", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrBadPolicy) {
				t.Errorf("error %v does not wrap ErrBadPolicy", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*", "ba", false},
		{"*c", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "ab", false}, {"a*b*c", "axbyc", true},
		{"a*b*c", "acb", false}, {"abc", "abc", true}, {"abc", "abcd", false}, {"ab*ab", "ab", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestTokenHashAndExpiry(t *testing.T) {
	if HashSecret("s") == "s" || len(HashSecret("s")) != 64 || HashSecret("s") != HashSecret("s") {
		t.Error("HashSecret must be a stable hex sha256")
	}
	now := time.Unix(100, 0)
	tok := &Token{ExpireTime: now.UnixNano()}
	if !tok.Expired(now) || tok.Expired(now.Add(-time.Second)) {
		t.Error("Expired wrong")
	}
	if (&Token{}).Expired(now) {
		t.Error("a token without expiry never expires")
	}
	if v := tok.View(""); v.SecretID != "" || v.ExpirationTime == nil {
		t.Errorf("view: %+v", v)
	}
}

func FuzzParsePolicy(f *testing.F) {
	src, _ := os.ReadFile("testdata/tutorial.hcl")
	f.Add(src)
	f.Add([]byte(`namespace "prod-*" { policy = "deny" }`))
	f.Add([]byte(`operator { policy = "write" }`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse("f.hcl", b)
		if err != nil {
			if !errors.Is(err, ErrBadPolicy) {
				t.Fatalf("error does not wrap ErrBadPolicy: %v", err)
			}
			return
		}
		a := Compile([]*Rules{r})
		_ = a.AllowNamespace("default", CapReadJob)
		_ = a.AllowOperator(Write)
	})
}
