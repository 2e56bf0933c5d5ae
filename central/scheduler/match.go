package scheduler

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// NodeMatches evaluates one constraint (not distinct_hosts nor
// distinct_property) against node n, as placement does. Agent rollouts
// select their nodes with it (central/ota).
func NodeMatches(c *jobspec.Constraint, n *structs.Node) bool {
	var s sched
	return s.checkConstraint(c, n)
}
