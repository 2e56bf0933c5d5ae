// Package agent is Tether's edge agent: it registers the node with central
// over MQTT, runs the allocations central wants on it, and reports their
// state, keeping everything it needs in one local state file so it works
// through outages and restarts.
//
// One goroutine (Run) owns the allocation map, the connection state and the
// outbox cursor. Everything else talks to it over channels: the MQTT session
// turns paho callbacks into session.Events, alloc runners send their client
// state as allocrunner.Updates:
//
//	restore allocs from the state file (re-attach tasks), apply the cached Desired
//	connect (paho retries in the background)
//	for {
//		select {
//		case ev := <-events:   connected → online, subscribe, hello, flush outbox
//		                       desired   → ignore if stale, save, apply (start/stop runners)
//		                       ack       → drop outbox entries ≤ seq
//		                       svc/<n>   → service cache (saved; templates re-render)
//		case u := <-updates:   record in the state file (next seq, compacted outbox), flush
//		case id := <-done:     a runner finished; forget the alloc if no longer desired
//		case <-svc.NewNames(): subscribe to svc/<name> for names templates started using
//		case <-heartbeat.C:    publish a heartbeat if connected
//		case <-ctx.Done():     detach from tasks (they keep running), say offline, close
//		}
//	}
//
// Each alloc update carries the alloc's full set of service instances
// (registered while their task runs, with health from their checks).
// Templates render from the service cache, which keeps the last set of
// each service in the state file: offline, they render from it.
//
// Nothing is stopped because central is silent: only a Desired that says
// so stops an allocation.
package agent
