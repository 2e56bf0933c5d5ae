package schema

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/tether-edge/tether/drivers"
)

// podmanKnown are the keys of a podman task's config block.
var podmanKnown = []string{"image", "command", "args", "entrypoint", "work_dir", "ports", "volumes", "network_mode", "force_pull", "labels"}

// Network modes of a podman task.
const (
	NetBridge = "bridge"
	NetHost   = "host"
	NetNone   = "none"
)

// LabelPrefix is reserved for the labels the podman driver puts on its
// containers (allocation, task, job).
const LabelPrefix = "tether."

// PodmanConfig is a podman task's config block, decoded and checked.
type PodmanConfig struct {
	Image       string
	Command     []string // command and args; nil: the image's CMD
	Entrypoint  []string // nil: the image's ENTRYPOINT
	WorkDir     string
	NetworkMode string
	ForcePull   bool
	Ports       []string // port labels to publish, each in the group's network block
	Volumes     []Volume
	Labels      map[string]string
}

// Volume is one bind mount. Host is absolute, or relative to the task dir
// (cleaned, and never leaving it).
type Volume struct {
	Host, Container string
	ReadOnly        bool
}

// Podman decodes a podman config block on the agent; ports are the labels
// of the group's network ports.
func Podman(cfg map[string]any, ports []string) (PodmanConfig, error) {
	return parsePodman(reader{driver: "podman", cfg: cfg}, ports)
}

func parsePodman(r reader, ports []string) (PodmanConfig, error) {
	pc := PodmanConfig{NetworkMode: NetBridge, Labels: map[string]string{}}
	if err := r.keys(podmanKnown, dockerKeys); err != nil {
		return pc, err
	}
	image, ok, err := r.str("image")
	if err != nil {
		return pc, err
	}
	if !ok || strings.TrimSpace(image) == "" {
		return pc, r.errf("image", `e.g. image = "localhost/web:1.0"`, `config key "image" is required`)
	}
	pc.Image = strings.TrimSpace(image)
	if !r.pendingKey("image") {
		if err := CheckImageRef(pc.Image); err != nil {
			return pc, r.errf("image", `e.g. image = "docker.io/library/redis:7"`, "%v", err)
		}
	}
	command, hasCommand, err := r.str("command")
	if err != nil {
		return pc, err
	}
	args, _, err := r.strs("args")
	if err != nil {
		return pc, err
	}
	if hasCommand && command == "" {
		return pc, r.errf("command", "remove it to run the image's default command", `config key "command" is empty`)
	}
	if hasCommand {
		pc.Command = append([]string{command}, args...)
	} else if len(args) > 0 {
		pc.Command = args // arguments to the image's entrypoint, as Docker's CMD
	}
	if pc.Entrypoint, _, err = r.strs("entrypoint"); err != nil {
		return pc, err
	}
	if pc.WorkDir, _, err = r.str("work_dir"); err != nil {
		return pc, err
	}
	if pc.WorkDir != "" && !strings.HasPrefix(pc.WorkDir, "/") && !r.pendingKey("work_dir") {
		return pc, r.errf("work_dir", `e.g. work_dir = "/app"`, `config key "work_dir" must be an absolute path inside the container (got %q)`, pc.WorkDir)
	}
	if pc.ForcePull, err = r.boolean("force_pull"); err != nil {
		return pc, err
	}
	mode, ok, err := r.str("network_mode")
	if err != nil {
		return pc, err
	}
	modeKnown := !r.pendingKey("network_mode")
	if ok && mode != "" && modeKnown {
		switch mode {
		case NetBridge, NetHost, NetNone:
			pc.NetworkMode = mode
		default:
			return pc, r.errf("network_mode", `use "bridge" (default), "host" or "none"`, `config key "network_mode" is %q`, mode)
		}
	}
	if pc.Ports, err = podmanPorts(r, ports, pc.NetworkMode, modeKnown); err != nil {
		return pc, err
	}
	if pc.Volumes, err = podmanVolumes(r); err != nil {
		return pc, err
	}
	if pc.Labels, err = podmanLabels(r); err != nil {
		return pc, err
	}
	return pc, nil
}

// CheckImageRef rejects references that could not name an image, and the
// characters that would change the meaning of an API path.
func CheckImageRef(ref string) error {
	for _, c := range ref {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.ContainsRune("._-/:@", c)
		if !ok {
			return fmt.Errorf("config key \"image\": %q is not an image reference (character %q)", ref, c)
		}
	}
	if strings.HasPrefix(ref, "/") || strings.Contains(ref, "..") || strings.Contains(ref, "//") {
		return fmt.Errorf("config key \"image\": %q is not an image reference", ref)
	}
	return nil
}

func podmanPorts(r reader, known []string, mode string, modeKnown bool) ([]string, error) {
	labels, ok, err := r.strs("ports")
	if err != nil || !ok || len(labels) == 0 {
		return nil, err
	}
	if mode == NetNone && modeKnown {
		return nil, r.errf("ports", `use network_mode = "bridge" or remove ports`, `config key "ports" needs a network: network_mode = "none" has none`)
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	var out []string
	for _, l := range labels {
		if r.pending(l) {
			continue
		}
		if !contains(known, l) {
			return nil, r.errf("ports", fmt.Sprintf("add port %q { } to the group's network block", l),
				`config key "ports": port %q is not in the group's network block (known: %s)`, l, strings.Join(sorted, ", "))
		}
		out = append(out, l)
	}
	return out, nil
}

func podmanVolumes(r reader) ([]Volume, error) {
	specs, _, err := r.strs("volumes")
	if err != nil {
		return nil, err
	}
	const example = `e.g. volumes = ["/srv/data:/data:ro"]`
	var out []Volume
	for _, s := range specs {
		if r.pending(s) {
			continue
		}
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, r.errf("volumes", example, `config key "volumes": %q is not host:container[:ro]`, s)
		}
		v := Volume{Host: parts[0], Container: parts[1]}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				v.ReadOnly = true
			case "rw":
			default:
				return nil, r.errf("volumes", example, `config key "volumes": %q: mode %q is not ro or rw`, s, parts[2])
			}
		}
		if !strings.HasPrefix(v.Container, "/") {
			return nil, r.errf("volumes", example, `config key "volumes": %q: the container path must be absolute`, s)
		}
		if !strings.HasPrefix(v.Host, "/") {
			v.Host = path.Clean(v.Host)
			if v.Host == ".." || strings.HasPrefix(v.Host, "../") {
				return nil, r.errf("volumes", `use a path under the task dir such as "local/data", or an absolute host path`,
					`config key "volumes": %q: a relative host path must stay inside the task dir`, s)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func podmanLabels(r reader) (map[string]string, error) {
	out := map[string]string{}
	v, ok := r.cfg["labels"]
	if !ok || v == nil {
		return out, nil
	}
	const example = `e.g. labels = { team = "edge" }`
	set := func(k, s string) error {
		if strings.HasPrefix(k, LabelPrefix) {
			return r.errf("labels", "choose another label name", `config key "labels": label %q uses the reserved prefix %q`, k, LabelPrefix)
		}
		out[k] = s
		return nil
	}
	add := func(m map[string]any) error {
		for k, val := range m {
			s, ok, err := drivers.ConfigString(m, k)
			if err != nil || !ok {
				return r.errf("labels", example, `config key "labels": label %q must be a string (got %T)`, k, val)
			}
			if err := set(k, s); err != nil {
				return err
			}
		}
		return nil
	}
	switch l := v.(type) {
	case map[string]any:
		return out, add(l)
	case map[string]string:
		for k, s := range l {
			if err := set(k, s); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any: // HCL blocks decode as a list of maps
		for i, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, r.errf("labels", example, `config key "labels": element %d must be a map`, i)
			}
			if err := add(m); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, r.errf("labels", example, `config key "labels" must be a map of strings`)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
