package jobspec

import (
	"testing"
	"time"
)

// check_restart at service level applies to each of its checks; a check's
// own block is merged over it as Nomad merges them; grace defaults to 1s.
func TestCheckRestartMerge(t *testing.T) {
	src := `
job "cr" {
  group "g" {
    network {
      port "http" {}
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/web"
      }
      service {
        name = "web"
        port = "http"
        check_restart {
          limit = 3
          grace = "20s"
        }
        check {
          type     = "http"
          path     = "/health"
          interval = "1s"
          timeout  = "1s"
        }
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
          check_restart {
            limit           = 5
            ignore_warnings = true
          }
        }
      }
      service {
        name = "admin"
        port = "http"
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
          check_restart { limit = 2 }
        }
        check {
          type     = "tcp"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}`
	j, err := Parse("cr.hcl", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	svcs := j.TaskGroups[0].Tasks[0].Services
	cases := []struct {
		name string
		got  *CheckRestart
		want *CheckRestart
	}{
		{"service block only", svcs[0].Checks[0].CheckRestart, &CheckRestart{Limit: 3, Grace: 20 * time.Second}},
		{"check merged over service", svcs[0].Checks[1].CheckRestart, &CheckRestart{Limit: 5, Grace: 20 * time.Second, IgnoreWarnings: true}},
		{"check block only, default grace", svcs[1].Checks[0].CheckRestart, &CheckRestart{Limit: 2, Grace: time.Second}},
		{"none", svcs[1].Checks[1].CheckRestart, nil},
	}
	for _, c := range cases {
		switch {
		case c.want == nil && c.got != nil:
			t.Errorf("%s: %+v, want none", c.name, c.got)
		case c.want != nil && (c.got == nil || *c.got != *c.want):
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}
