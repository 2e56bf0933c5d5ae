package structs

import "github.com/tether-edge/tether/jobspec"

// TaskGroupSummary counts a task group's allocations by client status, and
// the allocations its job's latest evaluation could not place (Queued).
type TaskGroupSummary struct {
	Queued   int `json:"queued"`
	Pending  int `json:"pending"`
	Running  int `json:"running"`
	Complete int `json:"complete"`
	Failed   int `json:"failed"`
	Lost     int `json:"lost"`
	Unknown  int `json:"unknown"`
}

// SummarizeGroups counts job's allocations by task group and client
// status, with the queued counts of its latest evaluation (nil: none).
// Every group of the job appears, and any group an allocation names.
func SummarizeGroups(job *jobspec.Job, allocs []*Allocation, latest *Evaluation) map[string]*TaskGroupSummary {
	sum := make(map[string]*TaskGroupSummary, len(job.TaskGroups))
	group := func(name string) *TaskGroupSummary {
		g := sum[name]
		if g == nil {
			g = &TaskGroupSummary{}
			sum[name] = g
		}
		return g
	}
	for _, tg := range job.TaskGroups {
		if tg != nil {
			group(tg.Name)
		}
	}
	for _, a := range allocs {
		g := group(a.TaskGroup)
		switch a.ClientStatus {
		case "pending":
			g.Pending++
		case "running":
			g.Running++
		case "complete":
			g.Complete++
		case "failed":
			g.Failed++
		case "lost":
			g.Lost++
		case "unknown":
			g.Unknown++
		}
	}
	if latest != nil {
		for name, n := range latest.QueuedAllocations {
			group(name).Queued = n
		}
	}
	return sum
}
