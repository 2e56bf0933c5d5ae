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
// ACLs (acl.go, acl_routes.go): authn resolves the request's
// X-Tether-Token once (management for everyone when ACLs are off); each
// route is wrapped in guard(check, handler) with the capability it needs,
// and handlers that learn a namespace only after a lookup check it with
// allowNS, while lists drop what canNS refuses. Lookups by ID or prefix
// (lookupAlloc, lookupEval) consider only what the token may read, so a
// hidden object is "not found" and prefix errors list no hidden ID. The
// web UI gets the same checks: each page names the API endpoint whose
// check it takes (uiPageCheck) and reads state through tokenView, the
// state filtered by canNS and readableAllocs (ui.go). /v1/acl/ holds
// bootstrap, policies and tokens. docs/acl.md lists what every endpoint
// needs.
//
//	route("/v1/job/{id}", get(s.guard(nsCap(acl.CapReadJob), s.getJob)))
//
// Errors are {"error": "..."} with 400 (bad input), 403 (the token lacks a
// capability: the message names it), 404 (unknown), 405 (method) or 500
// (the write failed, e.g. no leader).
package api
