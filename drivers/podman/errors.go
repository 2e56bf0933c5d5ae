package podman

import "errors"

// Sentinel errors. Returned errors wrap them with the details and the fix.
var (
	// ErrBadConfig is a task config block the driver cannot run.
	ErrBadConfig = errors.New("podman driver: invalid task config")
	// ErrImageNotFound is an image that is neither local nor pullable.
	ErrImageNotFound = errors.New("podman driver: image not found")
	// ErrLostContact is set as ExitResult.Err when the Podman API stopped
	// answering for longer than Options.LostContactTimeout.
	ErrLostContact = errors.New("lost contact with podman")
	// ErrBadState is a HandleState.Data this driver did not write.
	ErrBadState = errors.New("podman driver: unreadable handle state")
)
