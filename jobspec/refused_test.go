package jobspec

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// auditBlocks places a line in each block the decoder reads, for the audit
// tests: the line replaces "@@" and is always line 2 of its block's body.
var auditBlocks = []struct {
	label string // as docs/jobspec.md's table names the block
	spec  spec
	hcl   string
}{
	{"job", jobSpec, `job "j" {
@@
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"group", groupSpec, `job "j" {
  group "g" {
@@
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"network", networkSpec, `job "j" {
  group "g" {
    network {
@@
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"task", taskSpec, `job "j" {
  group "g" {
    task "t" {
@@
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"resources", resourcesSpec, `job "j" {
  group "g" {
    task "t" {
      resources {
@@
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"service", serviceSpec, `job "j" {
  group "g" {
    task "t" {
      service {
@@
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"check", checkSpec, `job "j" {
  group "g" {
    task "t" {
      service {
        check {
@@
          type = "tcp"
          port = 8080
        }
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"template", templateSpec, `job "j" {
  group "g" {
    task "t" {
      template {
@@
        data        = "x"
        destination = "local/x"
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"artifact", artifactSpec, `job "j" {
  group "g" {
    task "t" {
      artifact {
@@
        source = "https://example.invalid/x"
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
	{"artifact options", artifactOptionsSpec, `job "j" {
  group "g" {
    task "t" {
      artifact {
        source = "https://example.invalid/x"
        options {
@@
        }
      }
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
}`},
}

// auditFile returns the job file with line in place of "@@", and the line
// number it lands on.
func auditFile(tmpl, line string) (string, int) {
	n := strings.Count(tmpl[:strings.Index(tmpl, "@@")], "\n") + 1
	return strings.Replace(tmpl, "@@", line, 1), n
}

// Every refused name is an error at its file:line, written as an attribute
// or as a block, that says why and what to write instead; a value that asks
// for what Tether does anyway is accepted.
func TestRefusedNamesAreErrorsWithFileLine(t *testing.T) {
	for _, b := range auditBlocks {
		if len(b.spec.refused) == 0 {
			t.Errorf("%s: no refused names: is auditBlocks out of date?", b.label)
		}
		for name, r := range b.spec.refused {
			for _, line := range []string{name + ` = "not-what-tether-does"`, name + " {\n}"} {
				src, n := auditFile(b.hcl, line)
				_, err := Parse("audit.hcl", []byte(src), nil)
				want := fmt.Sprintf("audit.hcl:%d: ", n)
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("%q is not supported: %s; %s", name, r.why, r.fix)) {
					t.Errorf("%s %s: error %v; want it at %s with why and fix", b.label, strings.Fields(line)[0]+" "+strings.Fields(line)[1], err, want)
				}
			}
			for _, v := range r.same {
				src, _ := auditFile(b.hcl, fmt.Sprintf("%s = %q", name, v))
				if _, w, err := ParseWithWarnings("audit.hcl", []byte(src), nil); err != nil || len(w) != 0 {
					t.Errorf("%s %s = %q (what Tether does): err %v, warnings %v; want it accepted silently", b.label, name, v, err, w)
				}
			}
		}
	}
}

// Every name accepted with no effect parses, with a warning at its line.
func TestNoEffectNamesParseWithAWarning(t *testing.T) {
	for _, b := range auditBlocks {
		for _, name := range b.spec.ignored {
			src, n := auditFile(b.hcl, name+" {\n}")
			_, w, err := ParseWithWarnings("audit.hcl", []byte(src), nil)
			if err != nil || len(w) != 1 || !strings.HasPrefix(w[0], fmt.Sprintf("audit.hcl:%d: ", n)) {
				t.Errorf("%s %s: err %v, warnings %v; want one warning at line %d", b.label, name, err, w, n)
			}
		}
	}
}

// docs/jobspec.md's audit table has a row for every refused and every
// no-effect name.
func TestAuditTableListsEveryRefusedAndNoEffectName(t *testing.T) {
	doc, err := os.ReadFile("../docs/jobspec.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range auditBlocks {
		names := append([]string(nil), b.spec.ignored...)
		for name := range b.spec.refused {
			names = append(names, name)
		}
		for _, name := range names {
			row := fmt.Sprintf("| %s | `%s` |", b.label, name)
			if !strings.Contains(string(doc), row) {
				t.Errorf("docs/jobspec.md has no row %q", row)
			}
		}
	}
}
