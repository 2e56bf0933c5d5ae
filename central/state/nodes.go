package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/tether-edge/tether/central/structs"
)

func validNodeStatus(s string) bool {
	switch s {
	case structs.NodeInitializing, structs.NodeReady, structs.NodeDisconnected, structs.NodeDown:
		return true
	}
	return false
}

// nameHolder returns the first node of it (the nodes of one name) that is
// not down and is not node id, or nil. Node names are unique among the
// nodes that are not down, so a constraint on a name (or a job's secrets
// meant for it) reaches one machine: the first to hold the name keeps it
// until it is down.
func nameHolder(it memdb.ResultIterator, err error, id string) *structs.Node {
	if err != nil {
		return nil
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if n := raw.(*structs.Node); n.ID != id && n.Status != structs.NodeDown {
			return n
		}
	}
	return nil
}

func (a *applier) node(id string) (*structs.Node, error) {
	if err := checkID("node", id); err != nil {
		return nil, err
	}
	n := firstTxn[*structs.Node](a.txn, TableNodes, id)
	if n == nil {
		return nil, fmt.Errorf("%w: node %q is not registered: it must send hello first", ErrNotFound, id)
	}
	return n, nil
}

// upsertNode registers or re-registers a node. On re-registration the node
// keeps its CreateIndex, drain and eligibility (operator decisions) and the
// highest LastSeq.
func (a *applier) upsertNode(n *structs.Node) error {
	if err := checkID("node", n.ID); err != nil {
		return err
	}
	if n.Status == "" {
		n.Status = structs.NodeInitializing
	}
	if !validNodeStatus(n.Status) {
		return fmt.Errorf("%w: node %q: unknown status %q", ErrBadCommand, n.ID, n.Status)
	}
	if n.Name != "" && n.Status != structs.NodeDown {
		it, err := a.txn.Get(TableNodes, "name", n.Name)
		if h := nameHolder(it, err, n.ID); h != nil {
			return fmt.Errorf("%w: node %s registers as %q, the name of node %s (%s): constraints on node names would match both; start one of the agents with another -name",
				ErrNameTaken, n.ID, n.Name, h.ID, h.Status)
		}
	}
	if old := firstTxn[*structs.Node](a.txn, TableNodes, n.ID); old != nil {
		n.CreateIndex = old.CreateIndex
		n.Drain, n.Eligible = old.Drain, old.Eligible
		if n.Boot != old.Boot && n.LastSeq < old.LastSeq {
			// The agent restarted with a sequence counter below what we
			// applied: it lost its state file and numbers from 1 again.
			// Forget the old numbers, or its new reports would look like
			// replays.
			a.resetClientSeqs(n.ID)
		} else {
			n.LastSeq = max(n.LastSeq, old.LastSeq)
		}
	} else {
		n.CreateIndex = a.index
	}
	n.ModifyIndex = a.index
	a.insert(TableNodes, n)
	return nil
}

func (a *applier) nodeStatus(op *NodeStatus) error {
	old, err := a.node(op.NodeID)
	if err != nil {
		return err
	}
	if !validNodeStatus(op.Status) {
		return fmt.Errorf("%w: node %q: unknown status %q", ErrBadCommand, op.NodeID, op.Status)
	}
	n := *old
	n.Status = op.Status
	n.StatusDescription = op.Description
	n.StatusUpdatedAt = op.Now
	n.ModifyIndex = a.index
	a.insert(TableNodes, &n)
	return nil
}

func (a *applier) nodeEligibility(op *NodeEligibility) error {
	old, err := a.node(op.NodeID)
	if err != nil {
		return err
	}
	n := *old
	n.Eligible, n.Drain = op.Eligible, op.Drain
	n.ModifyIndex = a.index
	a.insert(TableNodes, &n)
	return nil
}

// resetClientSeqs forgets the applied sequence numbers of a node's allocs.
func (a *applier) resetClientSeqs(nodeID string) {
	it, err := a.txn.Get(TableAllocs, "node", nodeID)
	if err != nil {
		panic("BUG: allocs by node index: " + err.Error())
	}
	var reset []*structs.Allocation
	for obj := it.Next(); obj != nil; obj = it.Next() {
		if al := obj.(*structs.Allocation); al.ClientSeq != 0 {
			c := *al
			c.ClientSeq = 0
			c.ModifyIndex = a.index
			reset = append(reset, &c)
		}
	}
	for _, c := range reset {
		a.insert(TableAllocs, c)
	}
}
