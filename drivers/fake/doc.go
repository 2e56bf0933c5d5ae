// Package fake is an in-memory drivers.Driver for the agent's unit tests.
// Nothing runs: Start records a FakeTask whose exit the test controls.
//
//	d := fake.New()
//	h, _ := d.Start(ctx, cfg)         // cfg.Config may hold start_error, exit_after, exit_code, ignore_stop
//	d.Task(cfg.ID).Exit(3)            // h.Wait() now yields ExitResult{ExitCode: 3}
//
// Config keys understood by Start:
//
//	start_error = "boom"   Start fails with this message
//	exit_after  = "50ms"   the task exits by itself after this long ...
//	exit_code   = 2        ... with this code (default 0)
//	ignore_stop = true     Stop's signal is ignored, so Stop must kill after its timeout
//
// Recover re-attaches to a task the same Driver value started and that has
// not exited; anything else is drivers.ErrTaskGone.
package fake
