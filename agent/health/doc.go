// Package health runs a service's health checks (Nomad's http and tcp
// checks) and reports the service's health: healthy iff every check's
// latest result passed. A service with checks starts unhealthy until each
// check has passed once; a service without checks is healthy while its
// task runs (the caller decides that: Watch is only for services with
// checks).
//
// One goroutine per check, all stopped by the context:
//
//	done := health.Watch(ctx, checks, func(s health.Status) { ... })  // called on every change, first result included; done closes after ctx ends and every probe returned
//	// per check:  probe now; every Interval: probe, with Timeout
//	//             http: GET http://addr/path, 2xx passes
//	//             tcp:  connect passes
package health
