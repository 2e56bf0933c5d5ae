package allocrunner

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tether-edge/tether/agent/artifact"
	"github.com/tether-edge/tether/protocol"
)

// fetchArtifacts downloads the task's artifacts into its task dir before
// its first start. A failed download or a checksum mismatch fails the task
// with an event that says which artifact and why: nothing runs. It returns
// false when the runner is done.
func (t *taskRunner) fetchArtifacts(ctx context.Context) bool {
	f := t.r.cfg.Artifacts
	if f == nil {
		t.dead(ctx, true, t.event(protocol.EventDownloadFailure, "this agent cannot download artifacts: remove the artifact block or upgrade the agent"))
		return false
	}
	taskDir := t.r.AllocDir() + "/" + t.task.Name
	env := t.r.taskEnv(t.task)
	for _, a := range t.task.Artifacts {
		// As Nomad does, source, destination and checksum may use the
		// task's runtime variables and the node's attributes and meta
		// (app_${attr.cpu.arch}, ${NOMAD_TASK_DIR}/bin).
		dest := relativeDest(env.Replace(a.Destination), t.r.AllocDir(), taskDir)
		if dest == "" {
			dest = "local/"
		}
		path, err := f.Fetch(ctx, artifact.Artifact{Source: env.Replace(a.Source), Destination: dest, Checksum: env.Replace(a.Checksum), Mode: a.Mode}, taskDir)
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			t.dead(ctx, true, t.event(protocol.EventDownloadFailure, fmt.Sprintf("artifact %s: %v", a.Source, err)))
			return false
		}
		t.log.Info("artifact downloaded", "source", a.Source, "path", path)
	}
	return true
}

// relativeDest turns a destination that interpolation made absolute
// (${NOMAD_TASK_DIR}/bin, ${NOMAD_ALLOC_DIR}/data) into the form the
// fetcher takes: relative to the task dir, or ../alloc/... for the shared
// dir. Anything else is returned as it is, for the fetcher to refuse.
func relativeDest(dest, allocDir, taskDir string) string {
	if !filepath.IsAbs(dest) {
		return dest
	}
	slash := ""
	if strings.HasSuffix(dest, "/") {
		slash = "/"
	}
	inside := func(root string) (string, bool) {
		rel, err := filepath.Rel(root, dest)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", false
		}
		return filepath.ToSlash(rel), true
	}
	if rel, ok := inside(taskDir); ok {
		return rel + slash
	}
	if rel, ok := inside(filepath.Join(allocDir, "alloc")); ok {
		return "../alloc/" + rel + slash
	}
	return dest
}
