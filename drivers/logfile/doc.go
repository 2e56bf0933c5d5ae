// Package logfile keeps a task's output in rotated files named as Nomad
// names them: <logs dir>/<task>.stdout.N and <task>.stderr.N, where the
// highest N is the file being written and lower ones are older. A Policy
// bounds each stream to MaxFiles files of MaxFileSize bytes.
//
// Two ways in, one naming:
//
//	Writer  (wasm, podman: the agent process sees every byte)
//	        Write -> current file full? -> open N+1 -> remove N+1-MaxFiles and older
//
//	Shared  (exec: the task holds the current file open with O_APPEND and
//	        outlives the agent, so nothing of ours may sit in its output path)
//	        Watch, every 100 ms to 2 s: current file N past MaxFileSize?
//	        -> copy k whole pieces out -> rename it N+k -> cut them from its
//	           start (collapse range, else truncate) -> pieces become N..N+k-1
//
// Every path goes through an os.Root on the allocation's shared dir (the
// logs dir's parent), so symlinks a task plants cannot lead out of it.
//
// Readers (agent/logs.go) walk the same indexes with Reader positions that
// survive both kinds of rotation.
package logfile
