// Package podman is the driver that runs a task as a Podman container,
// through a thin client of Podman's libpod REST API on its unix socket
// (`podman system service`). It imports no Podman code: net/http and
// encoding/json over the socket, a dozen endpoints.
//
// What happens over a task's life:
//
//	Start:   decode config -> short image name on the default registry
//	         (redis:7 -> docker.io/library/redis:7, image.go) -> image
//	         exists? (else pull) -> remove the task's
//	         old container -> create (labels, mounts, ports, limits) -> start
//	         -> goroutine monitor: POST /wait (long poll, retried until
//	            LostContactTimeout) -> inspect (exit code, OOM) -> Wait() yields
//	         -> goroutine logs: GET /logs?follow (multiplexed frames) appended
//	            to the task's log files, a (second, line count) cursor on disk
//	Stop:    kill(signal) ... timeout ... kill(SIGKILL) -> wait -> remove
//	State:   {container id, name, log paths, cursor path} as JSON in HandleState.Data
//	Recover: inspect by id (404: ErrTaskGone) -> the same two goroutines; the
//	         log stream resumes from the cursor, so nothing is copied twice
//	Cleanup: remove containers labelled tether.alloc_id that the agent no
//	         longer knows
//
// Containers are kept after they exit (so Recover can read the exit code)
// and removed by Stop, by the next Start of the same task, or by Cleanup.
//
// Config keys: image (required), command, args, entrypoint, work_dir,
// ports, volumes, network_mode, force_pull, labels. See docs/drivers-podman.md.
package podman
