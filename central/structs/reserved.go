package structs

// Reserved is what a node keeps for its host and agent (the agent's
// reserved block): the scheduler places only into Resources - Reserved.
type Reserved struct {
	CPU      int `json:"cpu"`       // MHz
	MemoryMB int `json:"memory_mb"` // MB
}

// Offered is what the node offers to allocations: its resources less what
// it reserves (never below zero).
func (n *Node) Offered() Resources {
	r := n.Resources
	if n.Reserved != nil {
		r.CPU = max(r.CPU-n.Reserved.CPU, 0)
		r.MemoryMB = max(r.MemoryMB-n.Reserved.MemoryMB, 0)
	}
	return r
}
