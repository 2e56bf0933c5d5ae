package jobspec

import (
	"fmt"
	"slices"
)

// lifecycle checks a group's tasks' lifecycle blocks: known hooks, no
// sidecar on a poststop task (it runs once, after the group's other tasks;
// Nomad accepts the pair and the allocation then never turns healthy), and
// at least one main task for the hooks to run around.
func (v *validator) lifecycle(g *TaskGroup, path string) {
	mains, hooked := 0, false
	for _, t := range g.Tasks {
		if t == nil {
			continue
		}
		l := t.Lifecycle
		if l == nil {
			mains++
			continue
		}
		hooked = true
		tpath := fmt.Sprintf("%s task %q", path, t.Name)
		if !slices.Contains(hooks, l.Hook) {
			v.add(l, "hook", tpath, oneOf(hooks), "unknown lifecycle hook %q", l.Hook)
		}
		if l.Hook == "poststop" && l.Sidecar {
			v.add(l, "sidecar", tpath, "remove sidecar = true: a poststop task runs once, after the group's other tasks have stopped",
				"task %q: a poststop task cannot be a sidecar", t.Name)
		}
	}
	if hooked && mains == 0 {
		v.add(g, "", path, "add a task without a lifecycle block: prestart, poststart and poststop tasks run around the main tasks",
			"group %q has no main task (every task has a lifecycle block)", g.Name)
	}
}
