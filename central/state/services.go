package state

import (
	"fmt"
	"slices"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// clientTerminal reports whether an alloc with this client status will not
// run again, so its service instances must go. "unknown" is not terminal:
// the instances of a disconnected node stay registered (their health as
// last reported) until the node returns or its allocs are lost.
func clientTerminal(status string) bool {
	switch status {
	case protocol.AllocComplete, protocol.AllocFailed, protocol.AllocLost:
		return true
	}
	return false
}

// published reports whether two registrations of one ID differ in what
// consumers see (protocol.ServiceInstance).
func publishedEqual(a, b *structs.ServiceRegistration) bool {
	return a.ServiceName == b.ServiceName && a.Namespace == b.Namespace &&
		a.Address == b.Address && a.Port == b.Port && a.Healthy == b.Healthy &&
		a.NodeID == b.NodeID && a.AllocID == b.AllocID && a.JobID == b.JobID &&
		a.Datacenter == b.Datacenter && slices.Equal(a.Tags, b.Tags)
}

func (a *applier) allocServices(allocID string) []*structs.ServiceRegistration {
	it, err := a.txn.Get(TableServices, "alloc", allocID)
	if err != nil {
		panic("BUG: services scan: " + err.Error())
	}
	var out []*structs.ServiceRegistration
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*structs.ServiceRegistration))
	}
	return out
}

// dropAllocServices removes every service instance of an allocation.
func (a *applier) dropAllocServices(allocID string) {
	for _, r := range a.allocServices(allocID) {
		a.delete(TableServices, r)
		a.svcs[r.ServiceName] = true
	}
}

// validReg reports whether a registration from an agent can be stored: its
// name must be usable as a topic level and its port a port.
func validReg(r *structs.ServiceRegistration) bool {
	return r != nil && protocol.ValidID(r.ServiceName) && checkID("service", r.ServiceName) == nil &&
		r.Port >= 0 && r.Port <= 65535
}

// setAllocServices replaces an allocation's service instances with regs.
// Identity fields come from the allocation and its node, not the agent;
// the ID is recomputed. Unchanged rows are not rewritten, so a repeated
// report changes nothing and publishes nothing.
func (a *applier) setAllocServices(al *structs.Allocation, node *structs.Node, regs []*structs.ServiceRegistration) {
	want := make(map[string]*structs.ServiceRegistration, len(regs))
	for _, r := range regs {
		if !validReg(r) {
			a.res.Ignored++
			continue
		}
		r.ID = structs.ServiceID(al.ID, r.Task, r.ServiceName, r.PortLabel)
		if checkID("service", r.ID) != nil {
			a.res.Ignored++
			continue
		}
		r.Namespace, r.JobID, r.AllocID = al.Namespace, al.JobID, al.ID
		r.NodeID, r.Datacenter = al.NodeID, node.Datacenter
		want[r.ID] = r
	}
	for _, old := range a.allocServices(al.ID) {
		if _, ok := want[old.ID]; !ok {
			a.delete(TableServices, old)
			a.svcs[old.ServiceName] = true
		}
	}
	for _, r := range want {
		old := firstTxn[*structs.ServiceRegistration](a.txn, TableServices, r.ID)
		switch {
		case old == nil:
			r.CreateIndex = a.index
			a.svcs[r.ServiceName] = true
		case publishedEqual(old, r) && old.Output == r.Output && old.Task == r.Task && old.PortLabel == r.PortLabel:
			continue
		default:
			r.CreateIndex = old.CreateIndex
			if !publishedEqual(old, r) {
				a.svcs[r.ServiceName] = true
				a.svcs[old.ServiceName] = true
			}
		}
		r.ModifyIndex = a.index
		a.insert(TableServices, r)
	}
}

// deleteService removes one service instance named by an operator.
func (a *applier) deleteService(op *DeleteService) error {
	if err := checkNamespace(&op.Namespace); err != nil {
		return err
	}
	if err := checkID("service", op.ID); err != nil {
		return err
	}
	r := firstTxn[*structs.ServiceRegistration](a.txn, TableServices, op.ID)
	if r == nil || r.Namespace != op.Namespace || (op.Name != "" && r.ServiceName != op.Name) {
		return fmt.Errorf("%w: service %q has no instance %q in namespace %q: list them with `central service info %s`",
			ErrNotFound, op.Name, op.ID, op.Namespace, op.Name)
	}
	a.delete(TableServices, r)
	a.svcs[r.ServiceName] = true
	return nil
}

// Services returns every service instance of namespace ns ("" = all),
// sorted by service name, namespace and ID.
func (r reader) Services(ns string) []*structs.ServiceRegistration {
	all := collect[*structs.ServiceRegistration](r.get(TableServices, "name_prefix", ""))
	if ns == "" {
		return all
	}
	out := all[:0:0]
	for _, s := range all {
		if s.Namespace == ns {
			out = append(out, s)
		}
	}
	return out
}

// ServiceByName returns the instances of one service in namespace ns
// ("" = every namespace), sorted by namespace and ID.
func (r reader) ServiceByName(ns, name string) []*structs.ServiceRegistration {
	if ns == "" {
		return collect[*structs.ServiceRegistration](r.get(TableServices, "name_prefix", name, ""))
	}
	return collect[*structs.ServiceRegistration](r.get(TableServices, "name", name, ns))
}

// ServicesByAlloc returns an allocation's service instances, sorted by ID.
func (r reader) ServicesByAlloc(allocID string) []*structs.ServiceRegistration {
	return collect[*structs.ServiceRegistration](r.get(TableServices, "alloc", allocID))
}

func (s *Store) Services(ns string) []*structs.ServiceRegistration { return s.live().Services(ns) }
func (s *Store) ServiceByName(ns, name string) []*structs.ServiceRegistration {
	return s.live().ServiceByName(ns, name)
}
func (s *Store) ServicesByAlloc(allocID string) []*structs.ServiceRegistration {
	return s.live().ServicesByAlloc(allocID)
}
