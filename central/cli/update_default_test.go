package cli

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

// TestSubmitFollowsDefaultDeployment: a service job file without an update
// block gets Nomad's default update strategy, so job submit follows its
// deployment; max_parallel = 0, a system job without the block and a
// batch job are followed through their allocations only.
func TestSubmitFollowsDefaultDeployment(t *testing.T) {
	for _, tc := range []struct {
		name, hcl string
		want      bool
	}{
		{"service without update", webHCL, true},
		{"max_parallel = 0", webNoRolloutHCL, false},
		{"system without update", strings.Replace(webHCL, `datacenters = ["dc1"]`, `datacenters = ["dc1"]`+"\n  type = \"system\"", 1), false},
		{"batch", strings.Replace(webHCL, `datacenters = ["dc1"]`, `datacenters = ["dc1"]`+"\n  type = \"batch\"", 1), false},
	} {
		j, err := jobspec.Parse("web.hcl", []byte(tc.hcl), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := needsDeployment(j); got != tc.want {
			t.Errorf("%s: follows a deployment %v, want %v", tc.name, got, tc.want)
		}
	}
}
