package jobspec

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/agent/artifact"
)

var (
	jobTypes       = []string{JobTypeService, JobTypeSystem, JobTypeBatch, JobTypeSysBatch}
	restartModes   = []string{"fail", "delay"}
	reconcileModes = []string{"best_score", "keep_original", "keep_replacement", "longest_running"}
	changeModes    = []string{"restart", "signal", "noop"}
	networkModes   = []string{"host", "bridge", "none"}
	addressModes   = []string{"auto", "host", "driver", "alloc"}
	// What Tether honours of those: tasks use the host's network, and
	// services and checks use the node's address with the host port.
	hostNetworkModes = []string{"host"}
	hostAddressModes = []string{"auto", "host"}
	providers        = []string{"tether", "nomad"}
	checkTypes       = []string{"http", "tcp"}
	hooks            = []string{"prestart", "poststart", "poststop"}
	operators        = []string{OpEqual, "==", OpNotEqual, OpLess, OpLessEqual, OpGreater, OpGreaterEqual, OpRegexp,
		OpVersion, OpSemver, OpSetContains, OpSetContainsAny, OpIsSet, OpIsNotSet, OpDistinctHosts, OpDistinctProperty}
)

// Validate checks a canonicalized job (call Canonicalize first) and returns
// every problem it finds as Errors, or nil. Errors for a job that came from
// JSON carry a Path instead of file:line.
func (j *Job) Validate() error {
	return validate(j, "", nil).err()
}

// validator collects errors, placing them with positions when it has them.
type validator struct {
	file string
	pos  positions
	errs Errors
}

func validate(j *Job, file string, pos positions) Errors {
	v := &validator{file: file, pos: pos}
	if j == nil {
		v.add(nil, "", "", "submit a job", "no job")
		return v.errs
	}
	v.job(j)
	return v.errs.sorted()
}

// add records an error about obj's field; path says where it is when there
// is no file position.
func (v *validator) add(obj any, field, path, fix, format string, args ...any) {
	e := &Error{File: v.file, Path: path, Summary: fmt.Sprintf(format, args...), Fix: fix}
	if obj != nil {
		if r, ok := v.pos.get(obj, field); ok {
			e.File, e.Line, e.Column = r.Filename, r.Start.Line, r.Start.Column
		}
	}
	v.errs = append(v.errs, e)
}

func oneOf(known []string) string { return "use one of: " + strings.Join(known, ", ") }

func (v *validator) job(j *Job) {
	path := fmt.Sprintf("job %q", j.ID)
	switch {
	case strings.TrimSpace(j.ID) == "":
		v.add(j, "id", path, `write job "name" { ... }`, "job has no id")
	case strings.ContainsAny(j.ID, " \t\r\n\x00/"):
		v.add(j, "id", path, "use letters, digits, '-', '_' and '.'", "job id %q contains a space, slash or control character", j.ID)
	case len(j.ID) > 128:
		v.add(j, "id", path, "use at most 128 characters", "job id is %d characters long", len(j.ID))
	}
	if !slices.Contains(jobTypes, j.Type) {
		v.add(j, "type", path, meanFix(j.Type, jobTypes), "unknown job type %q (known: %s)", j.Type, strings.Join(jobTypes, ", "))
	}
	if j.Priority < 1 || j.Priority > 100 {
		v.add(j, "priority", path, "use a priority between 1 and 100", "job priority %d is out of range", j.Priority)
	}
	if j.Region == "" {
		v.add(j, "", path, `set region = "global"`, "job has no region")
	}
	if j.Namespace == "" {
		v.add(j, "", path, `set namespace = "default"`, "job has no namespace")
	}
	if len(j.Datacenters) == 0 {
		v.add(j, "datacenters", path, `set datacenters = ["dc1"] (or ["*"] for all)`, "job has no datacenters")
	}
	for _, dc := range j.Datacenters {
		if strings.TrimSpace(dc) == "" {
			v.add(j, "datacenters", path, `name each datacenter, e.g. ["dc1"]`, "job has an empty datacenter name")
		}
	}
	v.constraints(j.Constraints, path)
	if len(j.TaskGroups) == 0 {
		v.add(j, "", path, `add group "name" { task "name" { driver = "exec" ... } }`, "job %q has no group", j.ID)
	}
	seen := map[string]bool{}
	for i, g := range j.TaskGroups {
		if g == nil {
			v.add(nil, "", path, "remove the null entry", "task group %d is null", i)
			continue
		}
		gpath := fmt.Sprintf("%s group %q", path, g.Name)
		if g.Name == "" {
			v.add(g, "", gpath, `write group "name" { ... }`, "group %d has no name", i)
		} else if seen[g.Name] {
			v.add(g, "", gpath, "give each group its own name", "duplicate group %q", g.Name)
		}
		seen[g.Name] = true
		v.group(j, g, gpath)
	}
	v.dispatch(j, path) // parameterized and dispatch_payload (dispatch.go)
	v.periodic(j, path) // periodic.go
}

func (v *validator) constraints(cs []*Constraint, path string) {
	for _, c := range cs {
		if c == nil {
			v.add(nil, "", path, "remove the null entry", "null constraint")
			continue
		}
		if !slices.Contains(operators, c.Operand) {
			v.add(c, "operator", path, didYouMean(c.Operand, operators), "unknown constraint operator %q", c.Operand)
			continue
		}
		switch c.Operand {
		case OpDistinctHosts:
		case OpDistinctProperty, OpIsSet, OpIsNotSet:
			if c.LTarget == "" {
				v.add(c, "", path, `set attribute = "${meta.rack}" (or similar)`, "constraint %q needs an attribute", c.Operand)
			}
		default:
			if c.LTarget == "" {
				v.add(c, "", path, `set attribute = "${attr.cpu.arch}" (or similar)`, "constraint %q needs an attribute", c.Operand)
			}
			if c.Operand == OpRegexp {
				if _, err := regexp.Compile(c.RTarget); err != nil {
					v.add(c, "", path, "fix the regular expression", "constraint regexp %q: %v", c.RTarget, err)
				}
			}
		}
	}
}

func (v *validator) group(j *Job, g *TaskGroup, path string) {
	if g.Count < 0 {
		v.add(g, "count", path, "use 0 or more", "group %q has negative count %d", g.Name, g.Count)
	}
	v.constraints(g.Constraints, path)
	ports := map[string]bool{}
	if len(g.Networks) > 1 {
		v.add(g.Networks[1], "", path, "put all ports in one network block", "group %q has %d network blocks", g.Name, len(g.Networks))
	}
	for _, n := range g.Networks {
		if n == nil {
			continue
		}
		switch {
		case !slices.Contains(networkModes, n.Mode):
			v.add(n, "mode", path, oneOf(hostNetworkModes), "unknown network mode %q", n.Mode)
		case !slices.Contains(hostNetworkModes, n.Mode):
			v.add(n, "mode", path, `write mode = "host" or leave it out; a Podman task can have its own network with config { network_mode = "`+n.Mode+`" }`,
				"network mode %q is not supported: a group's tasks share the host's network (there is no group network namespace)", n.Mode)
		}
		for _, p := range n.Ports {
			if p == nil {
				continue
			}
			switch {
			case p.Label == "":
				v.add(p, "", path, `write port "http" { }`, "port has no label")
			case ports[p.Label]:
				v.add(p, "", path, "give each port its own label", "duplicate port %q", p.Label)
			}
			ports[p.Label] = true
			if p.Static < 0 || p.Static > 65535 {
				v.add(p, "static", path, "use a port between 1 and 65535", "port %q: static %d is out of range", p.Label, p.Static)
			}
			if p.To < -1 || p.To > 65535 {
				v.add(p, "to", path, "use a port between 1 and 65535", "port %q: to %d is out of range", p.Label, p.To)
			}
			if p.HostNetwork != "" && p.HostNetwork != "default" {
				v.add(p, "host_network", path, `remove host_network (or write "default"): ports are on the address the agent advertises (its -advertise flag)`,
					"port %q: host network %q is not supported: agents have no named host networks", p.Label, p.HostNetwork)
			}
		}
	}
	v.restart(g.Restart, path)
	if g.Reschedule != nil {
		v.reschedule(j, g.Reschedule, path) // reschedule.go
	}
	if g.Update != nil {
		v.update(j, g, g.Update, path) // update.go
	}
	if d := g.Disconnect; d != nil {
		if !slices.Contains(reconcileModes, d.Reconcile) {
			v.add(d, "reconcile", path, meanFix(d.Reconcile, reconcileModes), "unknown disconnect reconcile %q (known: %s)", d.Reconcile, strings.Join(reconcileModes, ", "))
		}
		if d.LostAfter < 0 || d.StopOnClientAfter < 0 {
			v.add(d, "", path, "use a positive duration", "disconnect durations must not be negative")
		}
		if d.LostAfter > 0 && d.StopOnClientAfter > 0 {
			// Point at what the user wrote: the block, or the older group attributes.
			var obj any = d
			field := "stop_on_client_after"
			if _, ok := v.pos.get(d, ""); !ok && g.StopAfterClientDisconnect != nil {
				obj, field = g, "stop_after_client_disconnect"
			}
			v.add(obj, field, path,
				"keep lost_after (tasks keep running while the node is away; central replaces them after that long) or stop_on_client_after (the agent stops them after that long without central), not both",
				"disconnect: lost_after (%s) and stop_on_client_after (%s) cannot both be set (max_client_disconnect and stop_after_client_disconnect are their older names)", shortDuration(d.LostAfter), shortDuration(d.StopOnClientAfter))
		}
	}
	v.services(g.Services, ports, path)
	v.groupCheckRestart(g.Services, path) // checkrestart.go
	if len(g.Tasks) == 0 {
		v.add(g, "", path, `add task "name" { driver = "exec" ... }`, "group %q has no task", g.Name)
	}
	v.lifecycle(g, path) // lifecycle.go
	seen := map[string]bool{}
	leaders := 0
	for i, t := range g.Tasks {
		if t == nil {
			v.add(nil, "", path, "remove the null entry", "task %d is null", i)
			continue
		}
		tpath := fmt.Sprintf("%s task %q", path, t.Name)
		switch {
		case t.Name == "":
			v.add(t, "", tpath, `write task "name" { ... }`, "task %d has no name", i)
		case strings.ContainsAny(t.Name, "/\x00"):
			v.add(t, "", tpath, "remove the slash", "task name %q contains a slash", t.Name)
		case seen[t.Name]:
			v.add(t, "", tpath, "give each task in a group its own name", "duplicate task %q in group %q", t.Name, g.Name)
		}
		seen[t.Name] = true
		if t.Leader {
			leaders++
			if leaders == 2 {
				v.add(t, "", tpath, "mark only one task leader = true", "group %q has more than one leader task", g.Name)
			}
		}
		v.task(t, ports, tpath)
	}
}

func timesInt(n int) time.Duration { return time.Duration(n) }

func (v *validator) services(ss []*Service, ports map[string]bool, path string) {
	for _, s := range ss {
		if s == nil {
			continue
		}
		spath := fmt.Sprintf("%s service %q", path, s.Name)
		if summary, fix := checkServiceName(s.Name); summary != "" {
			v.add(s, "name", spath, fix, "%s", summary)
		}
		if s.PortLabel != "" && !ports[s.PortLabel] && !isPortNumber(s.PortLabel) {
			v.add(s, "port", spath, portFix(s.PortLabel, ports), "service %q uses port %q, which the group's network does not define", s.Name, s.PortLabel)
		}
		switch {
		case s.Provider == "consul":
			v.add(s, "provider", spath, `Tether has its own service discovery: set provider = "tether" (or "nomad") or remove the line`, "service provider \"consul\" is not supported")
		case !slices.Contains(providers, s.Provider):
			v.add(s, "provider", spath, oneOf(providers), "unknown service provider %q", s.Provider)
		}
		switch {
		case s.AddressMode == "" || slices.Contains(hostAddressModes, s.AddressMode):
		case !slices.Contains(addressModes, s.AddressMode):
			v.add(s, "address_mode", spath, oneOf(hostAddressModes), "unknown address_mode %q", s.AddressMode)
		default:
			v.add(s, "address_mode", spath, `write address_mode = "host" or leave it out`,
				"address_mode %q is not supported: a service is registered with the node's address and the host port", s.AddressMode)
		}
		for _, c := range s.Checks {
			if c == nil {
				continue
			}
			switch {
			case c.Type == "":
				v.add(c, "", spath, `set type = "http" or "tcp"`, "check has no type")
			case !slices.Contains(checkTypes, c.Type):
				v.add(c, "type", spath, oneOf(checkTypes), "unsupported check type %q", c.Type)
			case c.Type == "http" && c.Path == "":
				v.add(c, "", spath, `set path = "/health" (or similar)`, "http check has no path")
			}
			if c.PortLabel != "" && !ports[c.PortLabel] && !isPortNumber(c.PortLabel) {
				v.add(c, "port", spath, portFix(c.PortLabel, ports), "check uses port %q, which the group's network does not define", c.PortLabel)
			}
			v.checkRequest(c, spath) // checkrequest.go
			if c.AddressMode != "" && c.AddressMode != "host" {
				v.add(c, "address_mode", spath, `write address_mode = "host" or leave it out`,
					"check address_mode %q is not supported: checks probe the node's address and the host port", c.AddressMode)
			}
			if c.Interval <= 0 || c.Timeout <= 0 {
				v.add(c, "", spath, `set interval = "10s" and timeout = "2s"`, "check interval and timeout must be positive")
			}
		}
	}
}

func isPortNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535
}

func portFix(label string, ports map[string]bool) string {
	known := make([]string, 0, len(ports))
	for p := range ports {
		known = append(known, p)
	}
	if s := suggest(label, known); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return fmt.Sprintf("add network { port %q { } } to the group", label)
}

func (v *validator) task(t *Task, ports map[string]bool, path string) {
	switch {
	case t.Driver == "":
		v.add(t, "", path, `set driver = "exec" (or "podman", "wasm")`, "task %q has no driver", t.Name)
	case t.Driver == "docker":
		v.add(t, "driver", path, `Tether runs containers with Podman: set driver = "podman" and keep image and ports in config`, "unknown driver \"docker\" (known: %s)", strings.Join(Drivers, ", "))
	case t.Driver == "raw_exec":
		v.add(t, "driver", path, `use driver = "exec"`, "unknown driver \"raw_exec\" (known: %s)", strings.Join(Drivers, ", "))
	case !slices.Contains(Drivers, t.Driver):
		v.add(t, "driver", path, meanFix(t.Driver, Drivers), "unknown driver %q (known: %s)", t.Driver, strings.Join(Drivers, ", "))
	}
	v.driverConfig(t, ports, path) // submitchecks.go
	if r := t.Resources; r != nil {
		if r.CPU < 0 || r.MemoryMB < 0 || r.Cores < 0 {
			v.add(r, "", path, "use values of zero or more", "task %q: negative resources", t.Name)
		}
		if r.CPU > 0 && r.Cores > 0 {
			v.add(r, "", path, "set either cpu or cores", "task %q asks for both cpu and cores", t.Name)
		}
	} else {
		v.add(t, "", path, "add resources { cpu = 100, memory = 300 }", "task %q has no resources", t.Name)
	}
	if t.KillTimeout < 0 {
		v.add(t, "", path, "use a positive duration", "task %q: negative kill_timeout", t.Name)
	}
	if l := t.Logs; l != nil && (l.MaxFiles < 0 || l.MaxFileSizeMB < 0) {
		v.add(l, "", path, "use max_files and max_file_size of 1 or more (default 10 and 10)", "task %q: negative logs max_files or max_file_size", t.Name)
	}
	v.constraints(t.Constraints, path)
	v.services(t.Services, ports, path)
	v.restart(t.Restart, path) // restart.go
	for _, a := range t.Artifacts {
		if a == nil {
			continue
		}
		v.artifact(a, path)
	}
	dests := map[string]bool{}
	for _, tm := range t.Templates {
		if tm == nil {
			continue
		}
		switch {
		case tm.Destination == "":
			v.add(tm, "", path, `set destination = "local/file.txt"`, "template has no destination")
		case dests[tm.Destination]:
			v.add(tm, "destination", path, "give each template its own destination", "two templates write %q", tm.Destination)
		}
		dests[tm.Destination] = true
		v.templateText(tm, path) // submitchecks.go
		if !slices.Contains(changeModes, tm.ChangeMode) {
			v.add(tm, "change_mode", path, oneOf(changeModes), "unknown template change_mode %q", tm.ChangeMode)
		} else if tm.ChangeMode == "signal" && tm.ChangeSignal == "" {
			v.add(tm, "change_mode", path, `set change_signal = "SIGHUP" (or similar)`, "template change_mode \"signal\" needs change_signal")
		}
		switch {
		case tm.Source != "" && tm.Data != "":
			v.add(tm, "source", path, "keep either data or source, not both", "template for %q sets both data and source", tm.Destination)
		case tm.Source != "" && !localPath(tm.Source):
			v.add(tm, "source", path, `give a path inside the task directory, e.g. source = "local/app.tpl"`, "template source %q is outside the task directory", tm.Source)
		}
		if tm.Perms != "" {
			if _, err := strconv.ParseUint(tm.Perms, 8, 32); err != nil {
				v.add(tm, "", path, `write octal permissions such as "0644"`, "template perms %q is not octal", tm.Perms)
			}
		}
	}
}

// shortDuration writes d as a user would: "1h", "1h30m", "90s" → "1m30s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// artifact checks one artifact block with the fetcher's own checks
// (agent/artifact.Check): a source the agent can download (no go-getter
// getters or options), a sha256 or sha512 checksum, a destination inside
// the task dir or the allocation's shared dir, a mode.
func (v *validator) artifact(a *Artifact, path string) {
	if a.Source == "" {
		v.add(a, "", path, `set source = "https://example.com/app"`, "artifact has no source")
		return
	}
	err := artifact.Check(artifact.Artifact{Source: a.Source, Destination: a.Destination, Checksum: a.Checksum, Mode: a.Mode})
	var ce *artifact.CheckError
	switch {
	case err == nil:
		v.artifactArchive(a, path) // submitchecks.go
	case errors.As(err, &ce):
		v.add(a, ce.Field, path, ce.Fix, "%s", ce.Msg)
	default:
		v.add(a, "", path, "", "artifact: %v", err)
	}
}
