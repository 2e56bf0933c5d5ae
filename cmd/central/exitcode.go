package main

import "errors"

// Exit codes of the server commands; the same as the CLI's (docs/cli.md).
const (
	exitOK    = 0
	exitError = 1 // the server could not start or stopped with an error
	exitUsage = 2 // bad flags or arguments
)

// usageError marks an error in the command line (a bad flag or an extra
// argument), as opposed to one in the config file or at startup.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// exitCodeOf is exitUsage for a usageError, else exitError.
func exitCodeOf(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitError
}
