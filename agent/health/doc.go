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
//
// WatchRestart is Watch with check_restart: a check with a RestartLimit
// that fails that many times in a row, past its RestartGrace, asks (once)
// for its task to be restarted.
//
// Tracker decides an allocation's health in a deployment, once, as
// Nomad's client does. It is pure: the caller feeds it what it sees and
// the time, and wakes it at Next:
//
//	tr := health.NewTracker(policy, now)
//	v := tr.Observe(now, obs)  // on every change of the tasks or checks
//	v = tr.Check(now)          // when tr.Next() comes
//	// v != nil: healthy, or unhealthy with a reason; decided for good
package health
