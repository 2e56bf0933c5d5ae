package desired

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

// BenchmarkCheckJob is what submission pays to check a job against the
// agent's limits: a typical small job, and one near the per-alloc limit.
func BenchmarkCheckJob(b *testing.B) {
	for _, c := range []struct {
		name string
		env  int
	}{{"small", 0}, {"200KB-env", 200_000}} {
		b.Run(c.name, func(b *testing.B) {
			j := testJob()
			if c.env > 0 {
				j.TaskGroups[0].Tasks[0].Env = map[string]string{"BLOB": strings.Repeat("x", c.env)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := CheckJob(j); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAllocBound is what the scheduler pays once per job version and
// group in a Compute call.
func BenchmarkAllocBound(b *testing.B) {
	j := testJob()
	j.TaskGroups[0].Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AllocBound(j, j.TaskGroups[0]); err != nil {
			b.Fatal(err)
		}
	}
}
