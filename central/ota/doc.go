// Package ota holds central's side of agent upgrades over the air: what a
// release binary is (Inspect reads its target from the ELF header and
// the Go build info, never from its name), where its bytes live (Blobs:
// one file per SHA-256 in each server's data dir, outside Raft) and how
// a rollout advances (Step: pure, state in, changes out; the leader
// applies them through Raft and publishes the nodes' desired states).
//
//	central agent release add -version V FILE...
//	    → Inspect(FILE) → Blobs.Put → Raft: UpsertAgentRelease (metadata)
//	    → every server: missing bytes fetched from a holder, hash checked
//	central agent rollout start -version V ...
//	    → Raft: the rollout, its nodes in order (canaries first)
//	leader, every second: Step(rollout, view of its upgrading nodes, now)
//	    → Raft: node orders, health, failure → desired states republished
package ota
