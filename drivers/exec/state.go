//go:build linux

package exec

import (
	"encoding/json"
	"fmt"
)

// stateData is HandleState.Data: the identity of a task's process.
type stateData struct {
	V         int    `json:"v"`
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // /proc/<pid>/stat field 22, detects pid reuse
	Pgid      int    `json:"pgid"`
	Cgroup    string `json:"cgroup,omitempty"` // absolute cgroupfs path, "" when none
	// Logs is what the agent rotates for the task; absent in the state of
	// a task started before rotation existed (its log is then left alone).
	Logs *logState `json:"logs,omitempty"`
}

// logState names a task's log streams and their bounds.
type logState struct {
	Stdout      string `json:"stdout,omitempty"` // base paths (logfile)
	Stderr      string `json:"stderr,omitempty"`
	MaxFiles    int    `json:"max_files"`
	MaxFileSize int64  `json:"max_file_size"` // bytes
}

const stateVersion = 1

func (s stateData) encode() []byte {
	s.V = stateVersion
	b, err := json.Marshal(s)
	if err != nil {
		panic("BUG: marshal exec state: " + err.Error())
	}
	return b
}

func decodeState(b []byte) (stateData, error) {
	var s stateData
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%w: %v", ErrBadState, err)
	}
	if s.V != stateVersion {
		return s, fmt.Errorf("%w: version %d, this agent reads %d", ErrBadState, s.V, stateVersion)
	}
	if s.Pid <= 1 || s.Pgid <= 1 || s.StartTime == 0 {
		return s, fmt.Errorf("%w: pid %d, pgid %d, start time %d", ErrBadState, s.Pid, s.Pgid, s.StartTime)
	}
	return s, nil
}
