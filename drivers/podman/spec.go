package podman

import (
	"strings"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/schema"
)

// Labels every container started by the driver carries.
const (
	labelPrefix  = schema.LabelPrefix
	labelAllocID = "tether.alloc_id"
	labelTask    = "tether.task"
	labelJobID   = "tether.job_id"
)

// specGenerator is the part of libpod's SpecGenerator (the body of
// POST /libpod/containers/create) that the driver fills in.
type specGenerator struct {
	Name         string            `json:"name"`
	Image        string            `json:"image"`
	Command      []string          `json:"command,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	WorkDir      string            `json:"work_dir,omitempty"`
	User         string            `json:"user,omitempty"`
	Env          map[string]string `json:"env,omitempty"`
	Labels       map[string]string `json:"labels"`
	Mounts       []specMount       `json:"mounts,omitempty"`
	PortMappings []specPort        `json:"portmappings,omitempty"`
	NetNS        specNamespace     `json:"netns"`
	Resources    *specResources    `json:"resource_limits,omitempty"`
	LogConfig    specLogConfig     `json:"log_configuration"`
	Terminal     bool              `json:"terminal"` // false: the logs endpoint multiplexes stdout and stderr
	Remove       bool              `json:"remove"`   // false: kept after exit so Recover can read its exit code
}

type specMount struct {
	Destination string   `json:"destination"`
	Source      string   `json:"source"`
	Type        string   `json:"type"`
	Options     []string `json:"options"`
}

type specPort struct {
	HostIP        string `json:"host_ip,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	HostPort      uint16 `json:"host_port"`
	Protocol      string `json:"protocol"`
}

type specNamespace struct {
	NSMode string `json:"nsmode"`
}

type specResources struct {
	Memory *specMemory `json:"memory,omitempty"`
	CPU    *specCPU    `json:"cpu,omitempty"`
}

type specMemory struct {
	Limit *int64 `json:"limit,omitempty"`
	Swap  *int64 `json:"swap,omitempty"`
}

type specCPU struct {
	Shares *uint64 `json:"shares,omitempty"`
}

type specLogConfig struct {
	Driver string `json:"driver"`
}

// CPU shares bounds (the kernel's for cgroup v1 cpu.shares).
const (
	minCPUShares = 2
	maxCPUShares = 262144
)

// containerName is the container's name: unique per task, so a new start of
// the same task replaces what is left of the previous one. Characters Podman
// refuses in names become '_'.
func containerName(cfg *drivers.TaskConfig) string {
	id := cfg.ID
	if id == "" {
		id = cfg.AllocID + "/" + cfg.TaskName
	}
	var b strings.Builder
	b.WriteString("tether-")
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// buildSpec turns a task into the container's create request.
func buildSpec(cfg *drivers.TaskConfig, tc *taskConfig) *specGenerator {
	s := &specGenerator{
		Name:       containerName(cfg),
		Image:      tc.image,
		Command:    tc.command,
		Entrypoint: tc.entrypoint,
		WorkDir:    tc.workDir,
		User:       cfg.User,
		Env:        cfg.Env,
		Labels:     map[string]string{},
		NetNS:      specNamespace{NSMode: tc.networkMode},
		// k8s-file keeps the log in Podman's storage, where the logs
		// endpoint can replay it after the agent re-attaches.
		LogConfig: specLogConfig{Driver: "k8s-file"},
	}
	for k, v := range tc.labels {
		s.Labels[k] = v
	}
	s.Labels[labelAllocID] = cfg.AllocID
	s.Labels[labelTask] = cfg.TaskName
	s.Labels[labelJobID] = cfg.JobID

	for _, m := range []struct{ dst, src string }{
		{"/alloc", cfg.AllocDir}, {"/local", cfg.LocalDir}, {"/secrets", cfg.SecretDir},
	} {
		if m.src != "" {
			s.Mounts = append(s.Mounts, bindMount(m.src, m.dst, false))
		}
	}
	for _, v := range tc.volumes {
		s.Mounts = append(s.Mounts, bindMount(v.host, v.container, v.readOnly))
	}
	for _, p := range tc.ports {
		s.PortMappings = append(s.PortMappings, specPort{
			ContainerPort: uint16(p.container), HostPort: uint16(p.host), Protocol: "tcp,udp",
		})
	}
	var r specResources
	if cfg.MemoryMB > 0 {
		limit := int64(cfg.MemoryMB) << 20
		swap := limit // no swap beyond the limit, as Nomad's container drivers
		r.Memory = &specMemory{Limit: &limit, Swap: &swap}
	}
	if cfg.CPU > 0 {
		shares := uint64(cfg.CPU)
		shares = max(min(shares, maxCPUShares), minCPUShares)
		r.CPU = &specCPU{Shares: &shares}
	}
	if r.Memory != nil || r.CPU != nil {
		s.Resources = &r
	}
	return s
}

func bindMount(src, dst string, readOnly bool) specMount {
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	return specMount{Destination: dst, Source: src, Type: "bind", Options: []string{"rbind", mode}}
}
