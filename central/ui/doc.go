// Package ui is central's web UI, served under /ui/: the fleet overview
// (nodes by status, datacenter and agent version; charts of the busiest
// and hottest nodes' last hour, drawn as SVG on the server: chart.go),
// servers, clients by datacenter, a client's health, jobs with their
// allocations and deployment, an allocation's tasks and event timeline,
// agent rollouts, services with their instances, and a page to paste an
// ACL token. Operator actions (actions.go) are buttons whose script calls
// the HTTP API with the tab's token; the API decides. Pages are rendered on the server with html/template from the
// state store; a little plain JavaScript keeps them live by asking for the
// page's <main> again with a blocking query (?fragment=1&index=N), which
// returns when a table the page shows changes (or after a short wait, so
// heartbeat ages refresh too). Templates and assets are embedded.
//
//	h := ui.New(backend, logger)  // backend: Authorize(r, page), Members(), LastHeartbeat()
//	mux.Handle("/ui/", h)
//
//	GET /ui/<page>                → Authorize: the API's check for the page,
//	                                then the state as the token may see it
//	                              → layout + page (403 page if refused)
//	GET /ui/<page>?fragment=1&index=N
//	    wait until a table of the page passes N (≤ 10s) → <main> only
//
// The token page keeps the secret in sessionStorage; app.js sends it as
// X-Tether-Token on every request it makes.
package ui
