// Package state owns the agent's local state: one bbolt file in the data
// dir holding the node identity, the allocations (desired + client state),
// the task handles needed to re-attach after an agent restart, the outbox of
// unacknowledged updates, the last Desired received, and the sequence
// counter. Values are CBOR (protocol.Encode / protocol.DecodeValue).
//
// The outbox is compacted per allocation: recording an update for an alloc
// replaces that alloc's previous unacknowledged entry, so an hour offline is
// one entry per alloc, not an hour of messages:
//
//	st, err := state.Open(dataDir, logger)  // a corrupt file is moved aside
//	u, _ := st.RecordUpdate(alloc, update)  // u.Seq is the next sequence number
//	batch, _ := st.Outbox(0, 256)           // oldest first
//	st.Ack(ack.Seq)                         // drops entries with seq <= ack.Seq
//
// A Store is safe for concurrent use (bbolt serialises writers).
package state
