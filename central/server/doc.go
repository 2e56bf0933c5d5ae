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
//	            ┌───────────┴───────────┐
//	            ▼                       ▼
//	      eval worker               publisher
//	  snapshot → scheduler.Compute   store → protocol.Desired per changed node
//	  → plan → Raft                  → gateway (retained)
//
// Heartbeats never reach Raft: the leader loop keeps a timing wheel of
// deadlines and writes only transitions (ready → down), as Nomad does.
package server
