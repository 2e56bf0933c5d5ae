package podman

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/schema"
)

// Network modes.
const (
	netBridge = schema.NetBridge
	netHost   = schema.NetHost
	netNone   = schema.NetNone
)

// taskConfig is a task's config block, decoded and checked.
type taskConfig struct {
	image       string
	command     []string // command and args; nil: the image's CMD
	entrypoint  []string // nil: the image's ENTRYPOINT
	workDir     string
	networkMode string
	forcePull   bool
	ports       []portMapping
	volumes     []volume
	labels      map[string]string
}

type portMapping struct {
	label     string
	host      int
	container int
}

type volume struct {
	host, container string
	readOnly        bool
}

// parseTaskConfig decodes cfg.Config with schema.Podman (the check central
// runs at submit) and adds what needs the node: the ports' host and
// container numbers, and relative volume paths joined to the task dir.
// Every error names the key and the fix.
func parseTaskConfig(cfg *drivers.TaskConfig) (*taskConfig, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no task config", ErrBadConfig)
	}
	labels := make([]string, 0, len(cfg.Ports))
	for _, p := range cfg.Ports {
		labels = append(labels, p.Label)
	}
	pc, err := schema.Podman(cfg.Config, labels)
	var se *schema.Error
	if errors.As(err, &se) {
		return nil, fmt.Errorf("%w: %s", ErrBadConfig, se.Detail()) // ErrBadConfig names the driver
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	tc := &taskConfig{
		image: pc.Image, command: pc.Command, entrypoint: pc.Entrypoint, workDir: pc.WorkDir,
		networkMode: pc.NetworkMode, forcePull: pc.ForcePull, labels: pc.Labels,
	}
	if tc.ports, err = mapPorts(pc.Ports, cfg.Ports, pc.NetworkMode); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	for _, v := range pc.Volumes {
		host := v.Host
		if !filepath.IsAbs(host) {
			if cfg.TaskDir == "" {
				return nil, fmt.Errorf("%w: config key \"volumes\": %q: the host path must be absolute (relative paths are relative to the task dir, which this task has none of)", ErrBadConfig, v.Host)
			}
			host = filepath.Join(cfg.TaskDir, host)
		}
		tc.volumes = append(tc.volumes, volume{host: filepath.Clean(host), container: v.Container, readOnly: v.ReadOnly})
	}
	return tc, nil
}

// checkImageRef is schema.CheckImageRef.
func checkImageRef(ref string) error { return schema.CheckImageRef(ref) }

// mapPorts gives each published label its host port and container port
// (the port's to, else its value). With the host's network the task binds
// the host port itself and nothing is mapped.
func mapPorts(labels []string, ports []drivers.Port, mode string) ([]portMapping, error) {
	var out []portMapping
	for _, l := range labels {
		var found *drivers.Port
		for i := range ports {
			if ports[i].Label == l {
				found = &ports[i]
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("config key \"ports\": port %q is not in the group's network block", l)
		}
		if found.Value < 1 || found.Value > 65535 || found.To < 0 || found.To > 65535 {
			return nil, fmt.Errorf("config key \"ports\": port %q has no valid host port (value %d, to %d)", l, found.Value, found.To)
		}
		to := found.To
		if to == 0 {
			to = found.Value
		}
		if mode == netHost {
			continue
		}
		out = append(out, portMapping{label: l, host: found.Value, container: to})
	}
	return out, nil
}
