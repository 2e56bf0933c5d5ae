package podman

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tether-edge/tether/drivers"
)

// configKeys are the keys of a podman task's config block.
var configKeys = []string{"image", "command", "args", "entrypoint", "work_dir", "ports", "volumes", "network_mode", "force_pull", "labels"}

// Network modes.
const (
	netBridge = "bridge"
	netHost   = "host"
	netNone   = "none"
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

// parseTaskConfig decodes cfg.Config and checks it against the rest of cfg
// (port labels, paths). Every error names the key and the fix.
func parseTaskConfig(cfg *drivers.TaskConfig) (*taskConfig, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no task config", ErrBadConfig)
	}
	c := cfg.Config
	wrap := func(err error) error { return fmt.Errorf("%w: %w", ErrBadConfig, err) }
	if err := drivers.CheckConfigKeys("podman", c, configKeys...); err != nil {
		return nil, wrap(err)
	}
	tc := &taskConfig{networkMode: netBridge, labels: map[string]string{}}
	var err error
	var ok bool
	if tc.image, ok, err = drivers.ConfigString(c, "image"); err != nil {
		return nil, wrap(err)
	} else if !ok || strings.TrimSpace(tc.image) == "" {
		return nil, fmt.Errorf("%w: config key \"image\" is required, e.g. image = \"localhost/web:1.0\"", ErrBadConfig)
	}
	tc.image = strings.TrimSpace(tc.image)
	if err := checkImageRef(tc.image); err != nil {
		return nil, wrap(err)
	}
	command, hasCommand, err := drivers.ConfigString(c, "command")
	if err != nil {
		return nil, wrap(err)
	}
	args, _, err := drivers.ConfigStrings(c, "args")
	if err != nil {
		return nil, wrap(err)
	}
	if hasCommand && command == "" {
		return nil, fmt.Errorf("%w: config key \"command\" is empty; remove it to run the image's default command", ErrBadConfig)
	}
	if hasCommand {
		tc.command = append([]string{command}, args...)
	} else if len(args) > 0 {
		tc.command = args // arguments to the image's entrypoint, as Docker's CMD
	}
	if tc.entrypoint, _, err = drivers.ConfigStrings(c, "entrypoint"); err != nil {
		return nil, wrap(err)
	}
	if tc.workDir, _, err = drivers.ConfigString(c, "work_dir"); err != nil {
		return nil, wrap(err)
	}
	if tc.workDir != "" && !strings.HasPrefix(tc.workDir, "/") {
		return nil, fmt.Errorf("%w: config key \"work_dir\" must be an absolute path inside the container (got %q)", ErrBadConfig, tc.workDir)
	}
	if tc.forcePull, _, err = drivers.ConfigBool(c, "force_pull"); err != nil {
		return nil, wrap(err)
	}
	mode, ok, err := drivers.ConfigString(c, "network_mode")
	if err != nil {
		return nil, wrap(err)
	}
	if ok && mode != "" {
		switch mode {
		case netBridge, netHost, netNone:
			tc.networkMode = mode
		default:
			return nil, fmt.Errorf("%w: config key \"network_mode\" is %q; use \"bridge\" (default), \"host\" or \"none\"", ErrBadConfig, mode)
		}
	}
	if tc.ports, err = parsePorts(c, cfg.Ports, tc.networkMode); err != nil {
		return nil, wrap(err)
	}
	if tc.volumes, err = parseVolumes(c, cfg.TaskDir); err != nil {
		return nil, wrap(err)
	}
	if tc.labels, err = parseLabels(c); err != nil {
		return nil, wrap(err)
	}
	return tc, nil
}

// checkImageRef rejects references that could not name an image, and the
// characters that would change the meaning of an API path.
func checkImageRef(ref string) error {
	for _, r := range ref {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-/:@", r)
		if !ok {
			return fmt.Errorf("config key \"image\": %q is not an image reference (character %q), e.g. image = \"localhost/web:1.0\"", ref, r)
		}
	}
	if strings.HasPrefix(ref, "/") || strings.Contains(ref, "..") || strings.Contains(ref, "//") {
		return fmt.Errorf("config key \"image\": %q is not an image reference, e.g. image = \"localhost/web:1.0\"", ref)
	}
	return nil
}

func parsePorts(c map[string]any, ports []drivers.Port, mode string) ([]portMapping, error) {
	labels, ok, err := drivers.ConfigStrings(c, "ports")
	if err != nil || !ok || len(labels) == 0 {
		return nil, err
	}
	if mode == netNone {
		return nil, fmt.Errorf("config key \"ports\" needs a network: network_mode = \"none\" has none; use \"bridge\" or remove ports")
	}
	known := make([]string, 0, len(ports))
	for _, p := range ports {
		known = append(known, p.Label)
	}
	sort.Strings(known)
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
			return nil, fmt.Errorf("config key \"ports\": port %q is not in the group's network block (known: %s); add port %q { } to network", l, strings.Join(known, ", "), l)
		}
		if found.Value < 1 || found.Value > 65535 || found.To < 0 || found.To > 65535 {
			return nil, fmt.Errorf("config key \"ports\": port %q has no valid host port (value %d, to %d)", l, found.Value, found.To)
		}
		to := found.To
		if to == 0 {
			to = found.Value
		}
		if mode == netHost {
			// The task shares the host's network: it binds Value itself.
			continue
		}
		out = append(out, portMapping{label: l, host: found.Value, container: to})
	}
	return out, nil
}

func parseVolumes(c map[string]any, taskDir string) ([]volume, error) {
	specs, _, err := drivers.ConfigStrings(c, "volumes")
	if err != nil {
		return nil, err
	}
	var out []volume
	for _, s := range specs {
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("config key \"volumes\": %q is not host:container[:ro], e.g. volumes = [\"/srv/data:/data:ro\"]", s)
		}
		v := volume{host: parts[0], container: parts[1]}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				v.readOnly = true
			case "rw":
			default:
				return nil, fmt.Errorf("config key \"volumes\": %q: mode %q is not ro or rw", s, parts[2])
			}
		}
		if !strings.HasPrefix(v.container, "/") {
			return nil, fmt.Errorf("config key \"volumes\": %q: the container path must be absolute", s)
		}
		if !filepath.IsAbs(v.host) {
			if taskDir == "" {
				return nil, fmt.Errorf("config key \"volumes\": %q: the host path must be absolute (relative paths are relative to the task dir, which this task has none of)", s)
			}
			v.host = filepath.Join(taskDir, v.host)
			if !strings.HasPrefix(v.host, filepath.Clean(taskDir)+string(filepath.Separator)) {
				return nil, fmt.Errorf("config key \"volumes\": %q: a relative host path must stay inside the task dir", s)
			}
		}
		v.host = filepath.Clean(v.host)
		out = append(out, v)
	}
	return out, nil
}

func parseLabels(c map[string]any) (map[string]string, error) {
	out := map[string]string{}
	v, ok := c["labels"]
	if !ok || v == nil {
		return out, nil
	}
	add := func(m map[string]any) error {
		for k, val := range m {
			s, ok, err := drivers.ConfigString(m, k)
			if err != nil || !ok {
				return fmt.Errorf("config key \"labels\": label %q must be a string (got %T)", k, val)
			}
			if strings.HasPrefix(k, labelPrefix) {
				return fmt.Errorf("config key \"labels\": label %q uses the reserved prefix %q", k, labelPrefix)
			}
			out[k] = s
		}
		return nil
	}
	switch l := v.(type) {
	case map[string]any:
		return out, add(l)
	case map[string]string:
		for k, s := range l {
			if strings.HasPrefix(k, labelPrefix) {
				return nil, fmt.Errorf("config key \"labels\": label %q uses the reserved prefix %q", k, labelPrefix)
			}
			out[k] = s
		}
		return out, nil
	case []any: // HCL blocks decode as a list of maps
		for i, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("config key \"labels\": element %d must be a map, e.g. labels = { team = \"edge\" }", i)
			}
			if err := add(m); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("config key \"labels\" must be a map of strings, e.g. labels = { team = \"edge\" }")
}
