package exec

import "errors"

// Sentinel errors of the exec driver.
var (
	// ErrExitUnknown is set in ExitResult.Err when a re-attached task exited
	// but ptrace was refused, so its exit status could not be learned.
	ErrExitUnknown = errors.New("exec: task exited after re-attach but its exit code is unknown (ptrace was refused)")
	// ErrBadState is returned by Recover when HandleState.Data cannot be decoded.
	ErrBadState = errors.New("exec: handle state is not an exec driver record")
)
