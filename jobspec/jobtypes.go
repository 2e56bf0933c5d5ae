package jobspec

// RunsToCompletion reports whether the tasks of a job of type typ are meant
// to exit: batch and sysbatch. A task of such a job that exits 0 is not
// restarted, and its finished allocation is not replaced.
func RunsToCompletion(typ string) bool {
	return typ == JobTypeBatch || typ == JobTypeSysBatch
}

// OnEveryNode reports whether a job of type typ places one allocation of
// each group on every eligible node instead of count of them: system and
// sysbatch.
func OnEveryNode(typ string) bool {
	return typ == JobTypeSystem || typ == JobTypeSysBatch
}
