package logfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// collapsible reports whether f's first n bytes can be cut with
// FALLOC_FL_COLLAPSE_RANGE: a filesystem that can, and whole blocks of it.
func collapsible(f *os.File, n int64) bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &fs); err != nil || fs.Bsize <= 0 {
		return false
	}
	switch uint32(fs.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.F2FS_SUPER_MAGIC:
		return n%int64(fs.Bsize) == 0
	}
	return false
}

// collapseStart removes f's first n bytes, moving the rest down, as one
// step that concurrent appends cannot interleave with.
func collapseStart(f *os.File, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_COLLAPSE_RANGE, 0, n)
}

// lockRotation takes f's rotation lock without waiting: false when another
// rotation of the same file holds it (the checks of a task that just
// exited and of its restart may overlap). Closing f releases it.
func lockRotation(f *os.File) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}
