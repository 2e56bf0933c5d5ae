// Package allocgc decides which terminal allocation directories an agent
// removes, as Nomad's client GC does. It is pure: the directories, the
// filesystem's usage come in, the removals go out; the agent (agent/gc.go)
// lists, measures and deletes, every gc_interval and when allocations
// start or finish.
//
//	dirs, usage := list(data_dir/allocs), statfs(data_dir)
//	for _, r := range allocgc.Select(policy, live, dirs, usage) {
//		os.RemoveAll(data_dir/allocs/r.ID)
//	}
//
// Two reasons to remove a directory, checked in this order, oldest
// finished first within each:
//   - max_allocs: the agent holds more than MaxAllocs allocations
//     (running ones included, as Nomad counts them);
//   - disk_usage: the data dir's filesystem is fuller than DiskThreshold.
//
// A running allocation is never a candidate: the caller passes only
// finished ones.
package allocgc
