package jobspec

import "testing"

// BenchmarkParse parses the tutorial-style edge job (two tasks, templates,
// variables, runtime references).
func BenchmarkParse(b *testing.B) {
	src := mustRead(b, "testdata/good/nomad_edge.hcl")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("nomad_edge.hcl", src, nil); err != nil {
			b.Fatal(err)
		}
	}
}
