package state

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// NodeIDFile is the file in the data dir that holds the node id. It is kept
// outside the state file so a lost or corrupt state file does not change
// the node's identity (central's retained desired state is keyed by it).
const NodeIDFile = "node-id"

// NewUUID returns a random (version 4) UUID.
func NewUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("node id: read random bytes: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// NodeIdentity returns the node id: from the node-id file, else from the
// state file, else a new UUID. It is written to both so it survives a
// restart and the loss of either.
func (s *Store) NodeIdentity(dataDir string) (string, error) {
	path := filepath.Join(dataDir, NodeIDFile)
	id := ""
	if b, err := os.ReadFile(path); err == nil {
		id = strings.TrimSpace(string(b))
	}
	if id == "" {
		var err error
		if id, err = s.NodeID(); err != nil {
			return "", err
		}
	}
	if id == "" {
		var err error
		if id, err = NewUUID(); err != nil {
			return "", err
		}
	}
	if len(id) > 100 || strings.ContainsAny(id, " \t\n") || !protocol.ValidID(id) {
		return "", fmt.Errorf("node id %q in %s is not valid: delete the file to get a new id", id, path)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node id: write %s: %w (check -data-dir permissions)", path, err)
	}
	if err := s.SetNodeID(id); err != nil {
		return "", err
	}
	return id, nil
}
