package jobspec

import (
	"testing"
	"time"
)

// A task's restart block sets only the fields it names; the rest are its
// group's, or the job type's defaults when the group has no block. A task without
// one has no policy of its own.
func TestTaskRestartMergedOverGroup(t *testing.T) {
	j, err := Parse("r.hcl", []byte(`job "r" {
  type = "batch"
  group "g" {
    restart {
      attempts = 5
      delay    = "5s"
      mode     = "delay"
    }
    task "own" {
      driver = "exec"
      config { command = "/bin/true" }
      restart {
        attempts = 1
        interval = "10m"
      }
    }
    task "plain" {
      driver = "exec"
      config { command = "/bin/true" }
    }
  }
  group "nogroupblock" {
    task "own" {
      driver = "exec"
      config { command = "/bin/true" }
      restart { delay = "1s" }
    }
  }
}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RestartPolicy{
		"g/own":            {Attempts: 1, Interval: 10 * time.Minute, Delay: 5 * time.Second, Mode: "delay"},
		"nogroupblock/own": {Attempts: 3, Interval: 24 * time.Hour, Delay: time.Second, Mode: "fail"},
	}
	for _, g := range j.TaskGroups {
		for _, tk := range g.Tasks {
			key := g.Name + "/" + tk.Name
			w, ok := want[key]
			switch {
			case !ok && tk.Restart != nil:
				t.Errorf("%s: restart %+v, want none (the group's applies)", key, *tk.Restart)
			case ok && (tk.Restart == nil || *tk.Restart != w):
				t.Errorf("%s: restart %+v, want %+v", key, tk.Restart, w)
			}
			delete(want, key)
		}
	}
	if len(want) != 0 {
		t.Errorf("tasks not found: %v", want)
	}
}

// A job submitted as JSON states a task's restart fields; a missing mode
// or interval is the group's.
func TestTaskRestartCanonicalizeJSON(t *testing.T) {
	j := &Job{ID: "r", Type: JobTypeService, TaskGroups: []*TaskGroup{{
		Name: "g", Count: 1,
		Restart: &RestartPolicy{Attempts: 4, Interval: time.Hour, Delay: time.Second, Mode: "delay"},
		Tasks:   []*Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"}, Restart: &RestartPolicy{Attempts: 1}}},
	}}}
	j.Canonicalize()
	got := *j.TaskGroups[0].Tasks[0].Restart
	if want := (RestartPolicy{Attempts: 1, Interval: time.Hour, Mode: "delay"}); got != want {
		t.Fatalf("restart %+v, want %+v", got, want)
	}
	if err := j.Validate(); err != nil {
		t.Fatal(err)
	}
}
