package podman

import (
	"encoding/json"
	"fmt"
)

// stateData is HandleState.Data: which container, and where its logs go.
type stateData struct {
	V      int    `json:"v"`
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	Cursor string `json:"cursor,omitempty"` // the log cursor file, "" when none
	// The bounds of the log streams Stdout and Stderr (logfile bases);
	// 0 in the state of a task started before log rotation.
	LogMaxFiles    int   `json:"log_max_files,omitempty"`
	LogMaxFileSize int64 `json:"log_max_file_size,omitempty"`
}

const stateVersion = 1

func (s stateData) encode() []byte {
	s.V = stateVersion
	b, err := json.Marshal(s)
	if err != nil {
		panic("BUG: marshal podman state: " + err.Error())
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
	if len(s.ID) != 64 || !isHex(s.ID) {
		return s, fmt.Errorf("%w: container id %q is not 64 hex digits", ErrBadState, s.ID)
	}
	return s, nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
