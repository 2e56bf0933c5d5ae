//go:build !linux

package logfile

import "os"

func collapsible(*os.File, int64) bool { return false }

func collapseStart(*os.File, int64) error { return os.ErrInvalid }

func lockRotation(*os.File) bool { return true }
