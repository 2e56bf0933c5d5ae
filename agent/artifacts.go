package agent

import (
	"path/filepath"

	"github.com/tether-edge/tether/agent/artifact"
	"github.com/tether-edge/tether/agent/config"
)

// newFetcher builds the artifact fetcher from the agent's config: the
// cache in data_dir, the directories file:// sources may be read from,
// the node-local networks downloads may reach, and central's API and the
// brokers, which downloads never connect to (docs/artifacts.md).
func newFetcher(cfg *config.Config) *artifact.Fetcher {
	return artifact.New(artifact.Options{
		CacheDir:      filepath.Join(cfg.DataDir, "artifacts"),
		FilePaths:     cfg.ArtifactFilePaths,
		AllowNetworks: cfg.ArtifactAllowNetworks,
		Deny:          artifact.Endpoints(append([]string{cfg.Central}, cfg.Brokers...)...),
	})
}
