package jobspec

import (
	"path"
	"strings"
)

// allocPath reports whether p, relative to a task's directory, names the
// allocation's shared directory or a path below it ("../alloc/data/"):
// Nomad accepts any destination that stays in the allocation directory,
// and the agent writes artifacts and templates into the task's directory
// or the shared one.
func allocPath(p string) bool {
	if path.IsAbs(p) || strings.HasPrefix(p, "\\") {
		return false
	}
	c := path.Clean(strings.ReplaceAll(p, "\\", "/"))
	return c == "../alloc" || strings.HasPrefix(c, "../alloc/")
}
