// Package ui is central's web UI, served under /ui/: servers, clients by
// datacenter, jobs with their allocations, an allocation's tasks and event
// timeline, services with their instances, and a page to paste an ACL
// token. Pages are rendered on the server with html/template from the
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
