package desired

import "github.com/tether-edge/tether/jobspec"

// testJob is a one-group service job with one exec task.
func testJob() *jobspec.Job {
	j := &jobspec.Job{ID: "web", Name: "web", Type: "service", Datacenters: []string{"dc1"}, TaskGroups: []*jobspec.TaskGroup{{
		Name: "g", Count: 1,
		Tasks: []*jobspec.Task{{Name: "t", Driver: "exec", Config: map[string]any{"command": "/bin/true"},
			Resources: &jobspec.Resources{CPU: 100, MemoryMB: 64}}},
	}}}
	j.Canonicalize()
	return j
}
