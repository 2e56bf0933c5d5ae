package scheduler

import (
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// groupNeed is what one allocation of tg reserves on its node, counting
// lifecycle hooks as Nomad does: tasks that never run at the same time do
// not add up. Prestart sidecars run throughout; ephemeral prestart tasks
// have finished before the main tasks (and poststart tasks) start, and
// poststop tasks start after those have stopped, so the allocation needs
// the prestart sidecars plus the largest of the three phases, per
// dimension.
func groupNeed(tg *jobspec.TaskGroup) structs.Resources {
	var sidecars, prestart, main, poststop structs.Resources
	for _, t := range tg.Tasks {
		if t == nil || t.Resources == nil {
			continue
		}
		r := structs.Resources{CPU: t.Resources.CPU, MemoryMB: t.Resources.MemoryMB, Cores: t.Resources.Cores}
		switch l := t.Lifecycle; {
		case l == nil || l.Hook == "poststart":
			main = main.Add(r)
		case l.Hook == "prestart" && l.Sidecar:
			sidecars = sidecars.Add(r)
		case l.Hook == "prestart":
			prestart = prestart.Add(r)
		case l.Hook == "poststop":
			poststop = poststop.Add(r)
		default: // refused at submit; count it in full
			main = main.Add(r)
		}
	}
	return sidecars.Add(maxResources(prestart, maxResources(main, poststop)))
}

func maxResources(a, b structs.Resources) structs.Resources {
	return structs.Resources{CPU: max(a.CPU, b.CPU), MemoryMB: max(a.MemoryMB, b.MemoryMB), Cores: max(a.Cores, b.Cores)}
}
