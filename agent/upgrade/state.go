package upgrade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tether-edge/tether/protocol"
)

// StateFile, in data_dir/upgrade, is what the old agent, the watchdog and
// the new agent share about an upgrade in progress or the last one.
const StateFile = "state.json"

// Phases of an upgrade in the state file.
const (
	PhaseTrying     = "trying"      // the new binary is in place; the watchdog waits for it to be healthy
	PhaseHealthy    = "healthy"     // the new agent said it is healthy: the watchdog left
	PhaseRolledBack = "rolled_back" // the watchdog put the previous binary back (Failure says why)
	PhaseRefused    = "refused"     // the order was refused before anything ran (Failure says why)
)

// State is the content of the state file.
type State struct {
	Phase     string `json:"phase"`
	Version   string `json:"version"` // the version being (or last) installed
	From      string `json:"from"`    // the version it replaces
	RolloutID string `json:"rollout_id,omitempty"`
	SHA256    []byte `json:"sha256,omitempty"`
	// What the watchdog needs: the agent's binary and the previous one,
	// how to start the agent again (its arguments, and the emulator it
	// runs under, if any), when the health window ends (unix ms), the
	// agent's PID, and whether a supervisor (systemd) starts it again.
	Exe        string   `json:"exe,omitempty"`
	Prev       string   `json:"prev,omitempty"`
	Args       []string `json:"args,omitempty"`
	Emulator   []string `json:"emulator,omitempty"`
	Deadline   int64    `json:"deadline,omitempty"`
	PID        int      `json:"pid,omitempty"`
	Supervised bool     `json:"supervised,omitempty"`
	// Failure is the last upgrade that did not take; reported in every
	// hello until central orders another upgrade.
	Failure *protocol.UpgradeFailure `json:"failure,omitempty"`
	// Restarted is the PID of the agent that started after a rollback.
	Restarted int `json:"restarted,omitempty"`
}

// StatePath is the state file in dir (data_dir/upgrade).
func StatePath(dir string) string { return filepath.Join(dir, StateFile) }

// LoadState reads the state file; nil, nil when there is none.
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("upgrade: read %s: %w", path, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("upgrade: %s is corrupt (%v): delete it to forget the last upgrade", path, err)
	}
	return &s, nil
}

// SaveState writes s to path atomically (a synced temporary file renamed
// over it), so a reader sees the old state or the new, never half.
func SaveState(path string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeFileSync(path, b, 0o600)
}

// writeFileSync writes b to a temporary file beside path, syncs it and
// renames it over path, then syncs the directory.
func writeFileSync(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("upgrade: write %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
