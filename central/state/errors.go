package state

import "errors"

var (
	// ErrBadCommand wraps every failure to decode or apply a command.
	ErrBadCommand = errors.New("state: bad command")
	// ErrCommandTooLarge is returned for a command over MaxCommandSize.
	ErrCommandTooLarge = errors.New("state: command too large")
	// ErrNotFound is returned by an op that names a job, node or
	// allocation the store does not hold.
	ErrNotFound = errors.New("state: not found")
	// ErrNameTaken is returned when a node registers with a name that
	// another node that is not down holds.
	ErrNameTaken = errors.New("state: node name taken")
	// ErrConflict is returned by a write made on a condition that no
	// longer holds (UpsertJob.EnforceIndex).
	ErrConflict = errors.New("state: conflict")
	// ErrBadSnapshot wraps every failure to restore a snapshot.
	ErrBadSnapshot = errors.New("state: bad snapshot")
)
