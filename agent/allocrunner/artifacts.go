package allocrunner

import (
	"context"
	"fmt"

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
	for _, a := range t.task.Artifacts {
		dest := a.Destination
		if dest == "" {
			dest = "local/"
		}
		path, err := f.Fetch(ctx, artifact.Artifact{Source: a.Source, Destination: dest, Checksum: a.Checksum, Mode: a.Mode}, taskDir)
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
