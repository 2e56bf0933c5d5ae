// Package schema decodes and checks a task's driver config block (the job
// file's config { ... }) for the exec, podman and wasm drivers, without a
// host: no Podman socket, no WebAssembly runtime, no file system. The
// drivers decode their config with these functions when a task starts, and
// central calls Check when a job is submitted, so the two never disagree
// on what a config block may say.
//
//	err := schema.Check("podman", task.Config, []string{"http"}) // central, at submit
//	pc, err := schema.Podman(cfg.Config, labels)                 // the podman driver, at start
//	// then the driver adds what needs the node: resolve paths
//	// against the task dir, look up the command, check the ports' values.
//
// At submit, a string with ${...} in it (NOMAD_PORT_http, attr.*, meta.*)
// is not resolved yet: its type is checked, its content is not. On the
// agent every value has been interpolated, so everything is checked.
package schema
