package jobspec

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDefaultUpdateStrategy: as Nomad's job Canonicalize, a service job
// without an update block gets Nomad's default strategy (max_parallel 1,
// checks, 10s, 5m, 10m) at job level and in every group, from a job file
// and from a JSON job alike; system and batch jobs get none;
// max_parallel = 0 stays 0 (no deployment).
func TestDefaultUpdateStrategy(t *testing.T) {
	parse := func(t *testing.T, src string) *Job {
		t.Helper()
		j, err := Parse("job.hcl", []byte(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	fromJSON := func(t *testing.T, src string) *Job {
		t.Helper()
		var j Job
		if err := json.Unmarshal([]byte(src), &j); err != nil {
			t.Fatal(err)
		}
		j.Canonicalize()
		return &j
	}
	def := DefaultUpdate()
	task := `task "t" {
  driver = "exec"
  config {
    command = "/bin/true"
  }
}`

	for name, j := range map[string]*Job{
		"hcl, no type":   parse(t, "job \"a\" {\n group \"g\" {\n"+task+"\n }\n}"),
		"hcl, service":   parse(t, "job \"a\" {\n type = \"service\"\n group \"g\" {\n"+task+"\n }\n}"),
		"json, service":  fromJSON(t, `{"id": "a", "type": "service", "task_groups": [{"name": "g", "count": 1}]}`),
		"json, no type":  fromJSON(t, `{"id": "a", "task_groups": [{"name": "g", "count": 1}]}`),
		"hcl, task only": parse(t, "job \"a\" {\n"+task+"\n}"),
	} {
		if !reflect.DeepEqual(j.Update, def) {
			t.Errorf("%s: job update %+v, want Nomad's default %+v", name, j.Update, def)
		}
		if g := j.TaskGroups[0]; !reflect.DeepEqual(g.Update, def) {
			t.Errorf("%s: group update %+v, want Nomad's default %+v", name, g.Update, def)
		}
	}

	for name, j := range map[string]*Job{
		"hcl, system":  parse(t, "job \"a\" {\n type = \"system\"\n group \"g\" {\n"+task+"\n }\n}"),
		"hcl, batch":   parse(t, "job \"a\" {\n type = \"batch\"\n group \"g\" {\n"+task+"\n }\n}"),
		"json, system": fromJSON(t, `{"id": "a", "type": "system", "task_groups": [{"name": "g", "count": 1}]}`),
	} {
		if j.Update != nil || j.TaskGroups[0].Update != nil {
			t.Errorf("%s: got an update strategy %+v / %+v, want none (Nomad gives only service jobs one)", name, j.Update, j.TaskGroups[0].Update)
		}
	}

	// max_parallel = 0 keeps replacing everything at once.
	j := parse(t, `job "a" {
  update {
    max_parallel = 0
  }
  group "g" {
`+task+`
  }
}`)
	if u := j.TaskGroups[0].Update; u == nil || u.MaxParallel != 0 {
		t.Errorf("job-level max_parallel = 0: group update %+v, want max_parallel 0", u)
	}
	j = fromJSON(t, `{"id": "a", "task_groups": [{"name": "g", "count": 1, "update": {"max_parallel": 0}}]}`)
	if u := j.TaskGroups[0].Update; u == nil || u.MaxParallel != 0 {
		t.Errorf("JSON group max_parallel 0: group update %+v, want max_parallel 0", u)
	}
	j = fromJSON(t, `{"id": "a", "update": {"max_parallel": 0}, "task_groups": [{"name": "g", "count": 1,
		"tasks": [{"name": "t", "driver": "exec", "config": {"command": "/bin/true"}}]}]}`)
	if u := j.TaskGroups[0].Update; u == nil || u.MaxParallel != 0 {
		t.Errorf("JSON job max_parallel 0: group update %+v, want max_parallel 0", u)
	}
	if err := j.Validate(); err != nil {
		t.Errorf("JSON job max_parallel 0 refused: %v", err)
	}

	// A group's own block still starts from the default and wins over it.
	j = parse(t, `job "a" {
  group "g" {
    update {
      canary = 1
    }
`+task+`
  }
}`)
	want := DefaultUpdate()
	want.Canary = 1
	if u := j.TaskGroups[0].Update; !reflect.DeepEqual(u, want) {
		t.Errorf("group block: %+v, want %+v", u, want)
	}
}
