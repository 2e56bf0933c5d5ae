package allocrunner

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tether-edge/tether/agent/internal/rootpath"
	"github.com/tether-edge/tether/protocol"
)

// PayloadPathOK reports whether file, a task's DispatchFile, names a file
// below the task's local/ dir (central checks the same at submit).
func PayloadPathOK(file string) bool {
	if file == "" || strings.ContainsAny(file, "\\\x00") || path.IsAbs(file) {
		return false
	}
	c := path.Clean(file)
	return c != "." && c != ".." && !strings.HasPrefix(c, "../")
}

// writePayload writes the allocation's dispatch payload to local/<file>
// of the task before its first start, as Nomad's dispatch hook does (and,
// as it, writes nothing when the dispatch had no payload). The
// write goes through an os.Root on the task dir, so a symlink in local/
// cannot make the agent write outside the task dir; the file is written
// to a temporary name and renamed over the destination, so a symlink
// planted at the destination is replaced, not followed. A failure fails
// the task with a Setup Failure that says why. It returns false when the
// runner is done.
func (t *taskRunner) writePayload(ctx context.Context) bool {
	if len(t.r.alloc.Payload) == 0 {
		return true
	}
	taskDir := filepath.Join(t.r.AllocDir(), t.task.Name)
	if err := writePayloadFile(taskDir, t.task.DispatchFile, t.r.alloc.Payload); err != nil {
		t.dead(ctx, true, t.event(protocol.EventSetupFailure, "dispatch payload: "+err.Error()))
		return false
	}
	return true
}

func writePayloadFile(taskDir, file string, payload []byte) error {
	if !PayloadPathOK(file) {
		return fmt.Errorf("file %q is outside the task's local/ directory", file)
	}
	root, err := os.OpenRoot(taskDir)
	if err != nil {
		return err
	}
	defer root.Close()
	rel := path.Join("local", path.Clean(file))
	dir, base := path.Split(rel)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return explainPayloadEscape(taskDir, dir, err)
	}
	sub, err := root.OpenRoot(dir)
	if err != nil {
		return explainPayloadEscape(taskDir, dir, err)
	}
	defer sub.Close()
	if err := rootpath.WriteFile(sub, base, payload, 0o644, ".tether-payload-"); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(taskDir, rel), err)
	}
	return nil
}

// explainPayloadEscape names the symlink os.Root refused to follow.
func explainPayloadEscape(root, dir string, err error) error {
	if l, ok := rootpath.Escape(root, dir); ok {
		return fmt.Errorf("directory %s: %s is a symlink to %s, which os.Root does not follow out of the task directory; nothing was written",
			filepath.Join(root, dir), l.Path, l.Target)
	}
	return fmt.Errorf("create directory %s: %w", filepath.Join(root, dir), err)
}
