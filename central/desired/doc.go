// Package desired builds what central publishes on a node's desired topic
// (protocol.Desired: every allocation central wants running there) and owns
// the budgets that keep that message publishable and decodable by the
// agent. It is pure: allocations in, messages and sizes out.
//
// The leader publishes, the scheduler and job submission check the budgets:
//
//	d := desired.Build(nodeID, dc, allocs, raftIndex, now) // leader → gateway
//	err := desired.CheckJob(job)                            // at submit: one alloc ≤ MaxAllocBytes, decodable
//	n := desired.AllocBound(job, tg) + desired.DatacenterBytes(dc) // scheduler: bytes one alloc adds
//	                                                        // (≤ MaxNodeBytes and ≤ MaxAllocsPerNode per node)
//
// An agent decodes a desired state with protocol's strict limits: at most
// protocol.MaxMessageSize bytes, protocol.MaxArrayElements allocations and
// protocol.MaxMapPairs entries per map. A message over those is refused
// by the broker or the agent; the budgets here stay well below them so
// that one job, or one namespace, can never make a node's desired state
// unpublishable for the others.
package desired
