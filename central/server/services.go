package server

import (
	"sort"

	"github.com/tether-edge/tether/central/state"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// buildServiceSet computes the retained message of one service: every
// instance, healthy or not (consumers filter), sorted by ID. It is pure.
// Instances of every namespace share the name's topic.
func buildServiceSet(name string, regs []*structs.ServiceRegistration, index uint64) *protocol.ServiceSet {
	set := &protocol.ServiceSet{V: protocol.Version, Name: name, Index: index, Instances: make([]protocol.ServiceInstance, 0, len(regs))}
	for _, r := range regs {
		set.Instances = append(set.Instances, protocol.ServiceInstance{
			ID: r.ID, Address: r.Address, Port: r.Port, Tags: r.Tags, NodeID: r.NodeID,
			AllocID: r.AllocID, JobID: r.JobID, Datacenter: r.Datacenter, Healthy: r.Healthy,
		})
	}
	sort.Slice(set.Instances, func(i, j int) bool { return set.Instances[i].ID < set.Instances[j].ID })
	return set
}

// publishServices publishes, retained on every broker, the instances of
// each service marked changed; a service left with none has its retained
// message cleared. Marks that pile up while it publishes coalesce: one
// publication per service, of the latest state.
func (l *leader) publishServices() {
	for {
		names := l.svcPub.take(l.ctx)
		if names == nil {
			return
		}
		sort.Strings(names)
		snap := l.s.store.Snapshot()
		index := snap.Index(state.TableServices)
		for _, name := range names {
			regs := snap.ServiceByName("", name)
			var err error
			if len(regs) == 0 {
				err = l.gw.ClearService(name)
			} else {
				err = l.gw.PublishService(buildServiceSet(name, regs, index))
			}
			if err != nil {
				l.s.log.Warn("publish service", "service", name, "err", err)
			}
		}
	}
}
