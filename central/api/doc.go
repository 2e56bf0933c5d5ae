// Package api owns central's HTTP API: the JSON endpoints under /v1/ that the
// CLI, the web UI and scripts use. It reads through a Reader (the state
// store) and writes through a Backend (Raft, forwarded to the leader); it
// holds no state of its own.
//
// Every GET is a blocking query when it carries ?index=N: the handler waits
// until the table it reads has an index above N (or ?wait= runs out), then
// answers with the current data and the table's index in X-Tether-Index:
//
//	idx := query.block(ctx, reader, "allocs") // Reader.Wait, bounded by ?wait
//	allocs := reader.AllocsByJob(ns, id)
//	writeJSON(w, 200, idx, allocs)              // nil slices become []
//
// Services: GET /v1/services lists names with their tags; GET
// /v1/service/<name> lists healthy instances (?all=true adds unhealthy
// ones, ?tag= filters, ?choose=N|key picks N by rendezvous hashing);
// DELETE /v1/service/<name>/<id> removes one instance.
//
// Errors are {"error": "..."} with 400 (bad input), 404 (unknown), 405
// (method) or 500 (the write failed, e.g. no leader).
package api
