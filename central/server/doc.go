// Package server is central: it ties the Raft-replicated state store, the
// scheduler, the MQTT gateway and the HTTP API together.
//
// Every server runs Raft and serves the HTTP API. Only the leader talks to
// agents and schedules; on gaining leadership it starts, under one context:
//
//	gateway ──inbound──▶ leader loop (owns node liveness)
//	                        │ hello, up, node down: ops
//	                        ▼
//	                     batcher ──one Raft entry per batch──▶ FSM ─▶ store
//	                        │ ApplyResult: evals created, nodes changed, acks
//	            ┌───────────┴───────────┬──────────────────────────┐
//	            ▼                       ▼                          ▼
//	      eval worker               publisher                 service publisher
//	  snapshot → scheduler.Compute   store → protocol.Desired   store → protocol.ServiceSet
//	  → plan → Raft                  per changed node           per changed service name
//	                                 → gateway (retained)       → gateway (retained on every
//	                                                              broker; cleared when empty)
//
// Both publishers drain a dirty set, so a burst of changes to one node or
// service costs one publication of its latest state. On gaining leadership
// every node's desired state and every service is published again.
//
// Clustering (cluster.go, forward.go, operator.go; docs/ha.md): a server
// in no cluster posts its ServerInfo to every -join address each second
// until a leader adds it as a voter, or until it knows bootstrap_expect
// servers and bootstraps with all of them. Each server's HTTP address (and
// embedded broker) is replicated through Raft in a registry kept by the
// FSM wrapper (fsm.go), so a follower forwards writes to the leader's HTTP
// address. The leader's gateway connects to the configured brokers, the
// per-datacenter sites, and — with embedded brokers — every server's
// embedded broker (brokers.go).
//
// Heartbeats never reach Raft: the leader loop keeps a timing wheel of
// deadlines and writes only transitions (ready → down), as Nomad does.
package server
