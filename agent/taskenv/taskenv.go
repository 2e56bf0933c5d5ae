package taskenv

import (
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// Node is what a task can learn about the node it runs on.
type Node struct {
	ID         string
	Name       string
	Datacenter string
	Region     string
	Attributes map[string]string
	Meta       map[string]string
}

// Dirs are the task's directories on the node.
type Dirs struct {
	AllocDir   string // <alloc>/alloc
	LocalDir   string // <alloc>/<task>/local
	SecretsDir string // <alloc>/<task>/secrets
}

// Env is a task's resolved environment with the data to interpolate with.
type Env struct {
	Vars   map[string]string // the environment the task gets
	node   Node
	lookup func(string) (string, bool) // the agent's environment
}

// prefixes under which every runtime variable is set.
var prefixes = []string{"TETHER_", "NOMAD_"}

// Build computes the task's environment: runtime variables, then the task's
// env block interpolated, then PATH from the agent if still absent.
// lookupEnv reads the agent's environment (os.LookupEnv); nil means empty.
func Build(alloc *protocol.DesiredAlloc, task *protocol.Task, node Node, dirs Dirs, lookupEnv func(string) (string, bool)) *Env {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	e := &Env{Vars: map[string]string{}, node: node, lookup: lookupEnv}
	set := func(k, v string) {
		for _, p := range prefixes {
			e.Vars[p+k] = v
		}
	}
	dc := firstNonEmpty(alloc.Datacenter, node.Datacenter)
	set("ALLOC_ID", alloc.ID)
	set("ALLOC_NAME", alloc.Name)
	set("ALLOC_INDEX", strconv.Itoa(alloc.Index))
	set("JOB_ID", alloc.JobID)
	set("JOB_NAME", alloc.JobID)
	if alloc.ParentID != "" { // only children of periodic and parameterized jobs
		set("JOB_PARENT_ID", alloc.ParentID)
	}
	set("GROUP_NAME", alloc.TaskGroup)
	set("TASK_NAME", task.Name)
	set("DC", dc)
	set("REGION", firstNonEmpty(alloc.Region, node.Region, "global"))
	set("NAMESPACE", firstNonEmpty(alloc.Namespace, "default"))
	set("ALLOC_DIR", dirs.AllocDir)
	set("TASK_DIR", dirs.LocalDir)
	set("SECRETS_DIR", dirs.SecretsDir)
	set("CPU_LIMIT", strconv.Itoa(task.Resources.CPU))
	set("MEMORY_LIMIT", strconv.Itoa(task.Resources.MemoryMB))
	// Names built from a port label or a meta key are set as written and,
	// when that differs, cleaned as Nomad cleans them (NOMAD_PORT_public-api
	// and NOMAD_PORT_public_api); a '.', which Nomad keeps and a shell
	// cannot read, also as '_' (NOMAD_META_release.channel and
	// NOMAD_META_release_channel). The cleaned spellings are applied last
	// and only where a name is still free, so a label written "public_api"
	// wins over one cleaned into it, whatever the order.
	var cleaned []string // key, value pairs
	setNamed := func(kind, name, v string) {
		set(kind+name, v)
		c := CleanName(name)
		if c != name {
			cleaned = append(cleaned, kind+c, v)
		}
		if sh := strings.ReplaceAll(c, ".", "_"); sh != c {
			cleaned = append(cleaned, kind+sh, v)
		}
	}
	nodeIP := firstNonEmpty(node.Attributes["unique.network.ip-address"], "127.0.0.1")
	for _, p := range alloc.Ports {
		ip := firstNonEmpty(p.HostIP, nodeIP)
		port := p.Value
		if p.To > 0 {
			port = p.To
		}
		setNamed("IP_", p.Label, ip)
		setNamed("PORT_", p.Label, strconv.Itoa(port))
		setNamed("ADDR_", p.Label, net.JoinHostPort(ip, strconv.Itoa(port)))
		setNamed("HOST_IP_", p.Label, ip)
		setNamed("HOST_PORT_", p.Label, strconv.Itoa(p.Value))
		setNamed("HOST_ADDR_", p.Label, net.JoinHostPort(ip, strconv.Itoa(p.Value)))
	}
	for _, m := range []map[string]string{alloc.Meta, task.Meta} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			setNamed("META_", k, m[k])
			setNamed("META_", strings.ToUpper(k), m[k])
		}
	}
	for i := 0; i < len(cleaned); i += 2 {
		for _, p := range prefixes {
			if _, taken := e.Vars[p+cleaned[i]]; !taken {
				e.Vars[p+cleaned[i]] = cleaned[i+1]
			}
		}
	}
	for k, v := range task.Env {
		e.Vars[k] = e.Replace(v)
	}
	if _, ok := e.Vars["PATH"]; !ok {
		if p, ok := lookupEnv("PATH"); ok {
			e.Vars["PATH"] = p
		}
	}
	return e
}

// Resolve returns the value of one reference (the text inside ${...}).
func (e *Env) Resolve(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	switch {
	case strings.HasPrefix(ref, "NOMAD_"), strings.HasPrefix(ref, "TETHER_"):
		v, ok := e.Vars[ref]
		return v, ok
	case strings.HasPrefix(ref, "attr."):
		v, ok := e.node.Attributes[ref[len("attr."):]]
		return v, ok
	case strings.HasPrefix(ref, "meta."):
		v, ok := e.node.Meta[ref[len("meta."):]]
		return v, ok
	case strings.HasPrefix(ref, "env."):
		k := ref[len("env."):]
		if v, ok := e.Vars[k]; ok {
			return v, true
		}
		return e.lookup(k)
	}
	switch ref {
	case "node.unique.id":
		return e.node.ID, true
	case "node.unique.name":
		return e.node.Name, true
	case "node.datacenter":
		return e.node.Datacenter, true
	case "node.region":
		return firstNonEmpty(e.node.Region, "global"), true
	}
	return "", false
}

// Replace resolves every ${...} in s; unknown references stay as written.
func (e *Env) Replace(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		ref := s[i+2 : i+2+j]
		if v, ok := e.Resolve(ref); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+3+j])
		}
		s = s[i+3+j:]
	}
}

// ReplaceAny returns a copy of v with Replace applied to every string in it,
// recursively through maps and lists. Other values are returned as they are.
func (e *Env) ReplaceAny(v any) any {
	switch x := v.(type) {
	case string:
		return e.Replace(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, vv := range x {
			out[k] = e.ReplaceAny(vv)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, vv := range x {
			out[k] = e.ReplaceAny(vv)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = e.ReplaceAny(vv)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, vv := range x {
			out[i] = e.Replace(vv)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, vv := range x {
			out[k] = e.Replace(vv)
		}
		return out
	}
	return v
}

// ReplaceConfig is ReplaceAny for a driver config block.
func (e *Env) ReplaceConfig(cfg map[string]any) map[string]any {
	if cfg == nil {
		return nil
	}
	return e.ReplaceAny(cfg).(map[string]any)
}

// CleanName returns name with every byte that may not appear in an
// environment variable name replaced by '_', as Nomad's client does for
// port labels, meta keys and upstream names: letters, digits, '_' and '.'
// are kept (Nomad keeps '.'), anything else, each byte of a non-ASCII
// letter included, becomes '_'. "public-api" → "public_api".
func CleanName(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
