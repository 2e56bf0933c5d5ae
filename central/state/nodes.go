package state

import (
	"fmt"

	"github.com/tether-edge/tether/central/structs"
)

func validNodeStatus(s string) bool {
	switch s {
	case structs.NodeInitializing, structs.NodeReady, structs.NodeDisconnected, structs.NodeDown:
		return true
	}
	return false
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
	if old := firstTxn[*structs.Node](a.txn, TableNodes, n.ID); old != nil {
		n.CreateIndex = old.CreateIndex
		n.Drain, n.Eligible = old.Drain, old.Eligible
		n.LastSeq = max(n.LastSeq, old.LastSeq)
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
