package jobspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Specs of every block. A name listed in both attrs and blocks may be
// written either way (meta { } or meta = { }). ignored names are Nomad's
// that cannot change what runs here: they parse, with a warning. refused
// names are errors that say why and what to write (refused.go).
// docs/jobspec.md has a row for every name.
var (
	jobSpec = spec{
		attrs:   []string{"name", "type", "region", "datacenters", "namespace", "priority", "meta"},
		blocks:  []string{"group", "periodic", "task", "constraint", "meta", "parameterized", "reschedule", "update"},
		ignored: []string{"all_at_once", "ui"},
		refused: refusedJob,
	}
	groupSpec = spec{
		attrs:   []string{"count", "max_client_disconnect", "stop_after_client_disconnect", "meta"},
		blocks:  []string{"network", "restart", "disconnect", "constraint", "meta", "service", "task", "reschedule", "update"},
		refused: refusedGroup,
	}
	networkSpec    = spec{attrs: []string{"mode"}, blocks: []string{"port"}, refused: refusedNetwork}
	portSpec       = spec{attrs: []string{"static", "to", "host_network"}}
	restartSpec    = spec{attrs: []string{"attempts", "interval", "delay", "mode", "render_templates"}}
	disconnectSpec = spec{attrs: []string{"lost_after", "stop_on_client_after", "replace", "reconcile"}}
	constraintSpec = spec{attrs: []string{"attribute", "operator", "value", "distinct_hosts", "distinct_property",
		"version", "semver", "regexp", "set_contains", "set_contains_any"}}
	taskSpec = spec{
		attrs:   []string{"driver", "user", "kill_timeout", "kill_signal", "leader", "config", "env", "meta"},
		blocks:  []string{"config", "env", "meta", "resources", "constraint", "service", "template", "lifecycle", "artifact", "logs", "dispatch_payload", "restart"},
		refused: refusedTask,
	}
	resourcesSpec = spec{attrs: []string{"cpu", "memory", "cores"}, refused: refusedResources}
	serviceSpec   = spec{attrs: []string{"name", "port", "tags", "address", "address_mode", "provider"}, blocks: []string{"check", "check_restart"},
		refused: refusedService}
	checkSpec = spec{attrs: []string{"type", "path", "interval", "timeout", "port", "name", "address_mode", "method", "body"}, blocks: []string{"check_restart", "header"},
		ignored: []string{"notes"}, refused: refusedCheck}
	templateSpec = spec{attrs: []string{"data", "destination", "env", "change_mode", "change_signal", "perms",
		"left_delimiter", "right_delimiter", "source", "splay"},
		refused: refusedTemplate}
	lifecycleSpec = spec{attrs: []string{"hook", "sidecar"}}
	logsSpec      = spec{attrs: []string{"max_files", "max_file_size", "disabled", "enabled"}}
	artifactSpec  = spec{attrs: []string{"source", "destination", "checksum", "mode"}, blocks: []string{"options"},
		refused: refusedArtifact}
	artifactOptionsSpec = spec{attrs: []string{"checksum"},
		refused: refusedArtifactOptions}
)

func within(s spec, where string) spec {
	s.where = where
	return s
}

func (d *decoder) job(b *hclsyntax.Block) *Job {
	if !d.labels(b, 1, `job "name" { ... }`) {
		return nil
	}
	j := &Job{ID: b.Labels[0]}
	d.pos.set(j, "", b.DefRange())
	d.pos.set(j, "id", b.LabelRanges[0])
	s := within(jobSpec, fmt.Sprintf("job %q", j.ID))
	c := d.content(b.Body, s)
	d.str(c, "name", &j.Name)
	if d.str(c, "type", &j.Type) {
		d.pos.set(j, "type", c.attrs["type"].Expr.Range())
	}
	d.str(c, "region", &j.Region)
	d.str(c, "namespace", &j.Namespace)
	if d.integer(c, "priority", &j.Priority) {
		d.pos.set(j, "priority", c.attrs["priority"].Expr.Range())
	}
	if dcs, ok := d.strList(c, "datacenters"); ok {
		j.Datacenters = dcs
		d.pos.set(j, "datacenters", c.attrs["datacenters"].Expr.Range())
	}
	j.Meta = d.strMap(c, s, "meta")
	j.Constraints = d.constraints(c, s.where)
	j.Parameterized = d.parameterized(c, s) // dispatch.go
	j.Periodic = d.periodic(c, s)           // periodic.go
	d.resched = d.reschedule(c, s)          // merged into each group's (reschedule.go)
	d.upd = d.update(c, s)                  // merged into each group's (update.go)
	j.Update = d.mergeUpdate(d.upd)
	// A task's restart block is merged over its group's (restart.go).
	d.restartBase = defaultRestart(j.Type)
	for _, gb := range c.blocks["group"] {
		if g := d.group(gb, j); g != nil {
			j.TaskGroups = append(j.TaskGroups, g)
		}
	}
	// jobspec2's shorthand: a task directly under job is a group of the
	// same name, with count 1, holding that one task.
	for _, tb := range c.blocks["task"] {
		if t := d.task(tb, s.where); t != nil {
			g := &TaskGroup{Name: t.Name, Count: 1, Tasks: []*Task{t}}
			d.pos.set(g, "", tb.DefRange())
			j.TaskGroups = append(j.TaskGroups, g)
		}
	}
	return j
}

func (d *decoder) constraints(c content, where string) []*Constraint {
	var out []*Constraint
	for _, b := range c.blocks["constraint"] {
		if con := d.constraint(b, where); con != nil {
			out = append(out, con)
		}
	}
	return out
}

func (d *decoder) constraint(b *hclsyntax.Block, where string) *Constraint {
	if !d.labels(b, 0, "constraint { attribute = ..., value = ... }") {
		return nil
	}
	c := d.content(b.Body, within(constraintSpec, where+" constraint"))
	con := &Constraint{}
	d.pos.set(con, "", b.DefRange())
	d.str(c, "attribute", &con.LTarget)
	if d.str(c, "operator", &con.Operand) {
		d.pos.set(con, "operator", c.attrs["operator"].Expr.Range())
	}
	d.str(c, "value", &con.RTarget)
	for _, op := range []string{"version", "semver", "regexp", "set_contains", "set_contains_any"} {
		if d.str(c, op, &con.RTarget) {
			con.Operand = op
		}
	}
	var distinct bool
	if d.boolean(c, "distinct_hosts", &distinct) {
		if !distinct {
			return nil // distinct_hosts = false asks for nothing
		}
		con.Operand = OpDistinctHosts
	}
	var prop string
	if d.str(c, "distinct_property", &prop) {
		con.Operand = OpDistinctProperty
		con.LTarget = prop
	}
	return con
}

func (d *decoder) group(b *hclsyntax.Block, j *Job) *TaskGroup {
	if !d.labels(b, 1, `group "name" { ... }`) {
		return nil
	}
	g := &TaskGroup{Name: b.Labels[0], Count: 1}
	d.pos.set(g, "", b.DefRange())
	s := within(groupSpec, fmt.Sprintf("group %q", g.Name))
	c := d.content(b.Body, s)
	if d.integer(c, "count", &g.Count) {
		d.pos.set(g, "count", c.attrs["count"].Expr.Range())
	}
	g.MaxClientDisconnect = d.durationPtr(c, "max_client_disconnect")
	if a := c.attrs["max_client_disconnect"]; a != nil && g.MaxClientDisconnect != nil {
		d.pos.set(g, "max_client_disconnect", a.Expr.Range())
		d.warnf(a.NameRange, "%s: max_client_disconnect is Nomad's older form; Tether honours it as disconnect { lost_after = %q }: write that instead", s.where, shortDuration(*g.MaxClientDisconnect))
	}
	g.StopAfterClientDisconnect = d.durationPtr(c, "stop_after_client_disconnect")
	if a := c.attrs["stop_after_client_disconnect"]; a != nil && g.StopAfterClientDisconnect != nil {
		d.pos.set(g, "stop_after_client_disconnect", a.Expr.Range())
		d.warnf(a.NameRange, "%s: stop_after_client_disconnect is Nomad's older form; Tether honours it as disconnect { stop_on_client_after = %q }: write that instead", s.where, shortDuration(*g.StopAfterClientDisconnect))
	}
	g.Meta = d.strMap(c, s, "meta")
	g.Constraints = d.constraints(c, s.where)
	g.Reschedule = d.groupReschedule(j.Type, d.resched, d.reschedule(c, s))
	g.Update = d.mergeUpdate(d.upd, d.update(c, s)) // update.go
	for _, nb := range c.blocks["network"] {
		if n := d.network(nb, s.where); n != nil {
			g.Networks = append(g.Networks, n)
		}
	}
	if rb := d.single(c, s, "restart"); rb != nil && d.labels(rb, 0, "restart { ... }") {
		g.Restart = d.restartBlock(rb, s.where, defaultRestart(j.Type))
	}
	if db := d.single(c, s, "disconnect"); db != nil && d.labels(db, 0, "disconnect { ... }") {
		dis := &Disconnect{}
		d.pos.set(dis, "", db.DefRange())
		dc := d.content(db.Body, within(disconnectSpec, s.where+" disconnect"))
		if d.duration(dc, "lost_after", &dis.LostAfter) {
			d.pos.set(dis, "lost_after", dc.attrs["lost_after"].Expr.Range())
		}
		if d.duration(dc, "stop_on_client_after", &dis.StopOnClientAfter) {
			d.pos.set(dis, "stop_on_client_after", dc.attrs["stop_on_client_after"].Expr.Range())
		}
		var replace bool
		if d.boolean(dc, "replace", &replace) {
			dis.Replace = &replace
		}
		if d.str(dc, "reconcile", &dis.Reconcile) {
			d.pos.set(dis, "reconcile", dc.attrs["reconcile"].Expr.Range())
		}
		g.Disconnect = dis
	}
	for _, sb := range c.blocks["service"] {
		if svc := d.service(sb, s.where); svc != nil {
			g.Services = append(g.Services, svc)
		}
	}
	if g.Restart != nil { // a task's restart block is merged over it (restart.go)
		outer := d.restartBase
		d.restartBase = g.Restart
		defer func() { d.restartBase = outer }()
	}
	for _, tb := range c.blocks["task"] {
		if t := d.task(tb, s.where); t != nil {
			g.Tasks = append(g.Tasks, t)
		}
	}
	return g
}

func (d *decoder) network(b *hclsyntax.Block, where string) *Network {
	if !d.labels(b, 0, "network { port \"http\" { } }") {
		return nil
	}
	n := &Network{}
	d.pos.set(n, "", b.DefRange())
	c := d.content(b.Body, within(networkSpec, where+" network"))
	if d.str(c, "mode", &n.Mode) {
		d.pos.set(n, "mode", c.attrs["mode"].Expr.Range())
	}
	for _, pb := range c.blocks["port"] {
		if !d.labels(pb, 1, `port "http" { to = 8080 }`) {
			continue
		}
		p := &Port{Label: pb.Labels[0]}
		d.pos.set(p, "", pb.DefRange())
		pc := d.content(pb.Body, within(portSpec, fmt.Sprintf("%s port %q", where, p.Label)))
		if d.integer(pc, "static", &p.Static) {
			d.pos.set(p, "static", pc.attrs["static"].Expr.Range())
		}
		if d.integer(pc, "to", &p.To) {
			d.pos.set(p, "to", pc.attrs["to"].Expr.Range())
		}
		if d.str(pc, "host_network", &p.HostNetwork) {
			d.pos.set(p, "host_network", pc.attrs["host_network"].Expr.Range())
		}
		n.Ports = append(n.Ports, p)
	}
	return n
}

func (d *decoder) service(b *hclsyntax.Block, where string) *Service {
	if !d.labels(b, 0, "service { name = ..., port = ... }") {
		return nil
	}
	svc := &Service{}
	d.pos.set(svc, "", b.DefRange())
	s := within(serviceSpec, where+" service")
	c := d.content(b.Body, s)
	if d.str(c, "name", &svc.Name) {
		d.pos.set(svc, "name", c.attrs["name"].Expr.Range())
	}
	if d.str(c, "port", &svc.PortLabel) {
		d.pos.set(svc, "port", c.attrs["port"].Expr.Range())
	}
	svc.Tags, _ = d.strList(c, "tags")
	d.str(c, "address", &svc.Address)
	if d.str(c, "address_mode", &svc.AddressMode) {
		d.pos.set(svc, "address_mode", c.attrs["address_mode"].Expr.Range())
	}
	if d.str(c, "provider", &svc.Provider) {
		d.pos.set(svc, "provider", c.attrs["provider"].Expr.Range())
	}
	svcRestart := d.checkRestart(c, s) // checkrestart.go
	for _, cb := range c.blocks["check"] {
		if !d.labels(cb, 0, "check { type = \"http\", path = \"/\" }") {
			continue
		}
		ch := &Check{}
		d.pos.set(ch, "", cb.DefRange())
		cc := d.content(cb.Body, within(checkSpec, s.where+" check"))
		d.str(cc, "name", &ch.Name)
		if d.str(cc, "type", &ch.Type) {
			d.pos.set(ch, "type", cc.attrs["type"].Expr.Range())
		}
		d.str(cc, "path", &ch.Path)
		d.duration(cc, "interval", &ch.Interval)
		d.duration(cc, "timeout", &ch.Timeout)
		if d.str(cc, "port", &ch.PortLabel) {
			d.pos.set(ch, "port", cc.attrs["port"].Expr.Range())
		}
		if d.str(cc, "address_mode", &ch.AddressMode) {
			d.pos.set(ch, "address_mode", cc.attrs["address_mode"].Expr.Range())
		}
		if d.str(cc, "method", &ch.Method) {
			d.pos.set(ch, "method", cc.attrs["method"].Expr.Range())
		}
		if d.str(cc, "body", &ch.Body) {
			d.pos.set(ch, "body", cc.attrs["body"].Expr.Range())
		}
		if hb := d.single(cc, within(checkSpec, s.where+" check"), "header"); hb != nil {
			ch.Header = d.checkHeader(hb) // checkrequest.go
			d.pos.set(ch, "header", hb.DefRange())
		}
		ch.CheckRestart = d.mergeCheckRestart(svcRestart, d.checkRestart(cc, within(checkSpec, s.where+" check")))
		svc.Checks = append(svc.Checks, ch)
	}
	return svc
}

func (d *decoder) task(b *hclsyntax.Block, where string) *Task {
	if !d.labels(b, 1, `task "name" { driver = "exec" ... }`) {
		return nil
	}
	t := &Task{Name: b.Labels[0]}
	d.pos.set(t, "", b.DefRange())
	s := within(taskSpec, fmt.Sprintf("%s task %q", where, t.Name))
	c := d.content(b.Body, s)
	if d.str(c, "driver", &t.Driver) {
		d.pos.set(t, "driver", c.attrs["driver"].Expr.Range())
	}
	d.str(c, "user", &t.User)
	d.duration(c, "kill_timeout", &t.KillTimeout)
	d.str(c, "kill_signal", &t.KillSignal)
	d.boolean(c, "leader", &t.Leader)
	t.Env = d.strMap(c, s, "env")
	t.Meta = d.strMap(c, s, "meta")
	t.Config = d.config(c, s)
	d.configPositions(t, c) // submitchecks.go
	t.Constraints = d.constraints(c, s.where)
	if rb := d.single(c, s, "resources"); rb != nil && d.labels(rb, 0, "resources { cpu = 100, memory = 64 }") {
		r := &Resources{}
		d.pos.set(r, "", rb.DefRange())
		rc := d.content(rb.Body, within(resourcesSpec, s.where+" resources"))
		d.integer(rc, "cpu", &r.CPU)
		d.integer(rc, "memory", &r.MemoryMB)
		d.integer(rc, "cores", &r.Cores)
		t.Resources = r
	}
	if lb := d.single(c, s, "lifecycle"); lb != nil && d.labels(lb, 0, `lifecycle { hook = "prestart" }`) {
		l := &Lifecycle{}
		d.pos.set(l, "", lb.DefRange())
		lc := d.content(lb.Body, within(lifecycleSpec, s.where+" lifecycle"))
		if d.str(lc, "hook", &l.Hook) {
			d.pos.set(l, "hook", lc.attrs["hook"].Expr.Range())
		}
		if d.boolean(lc, "sidecar", &l.Sidecar) {
			d.pos.set(l, "sidecar", lc.attrs["sidecar"].Expr.Range())
		}
		t.Lifecycle = l
	}
	t.DispatchPayload = d.dispatchPayload(c, s) // dispatch.go
	if rb := d.single(c, s, "restart"); rb != nil && d.labels(rb, 0, "restart { attempts = 2, delay = \"15s\" }") {
		t.Restart = d.restartBlock(rb, s.where, d.restartBase)
	}
	if lb := d.single(c, s, "logs"); lb != nil && d.labels(lb, 0, "logs { max_files = 10, max_file_size = 10 }") {
		t.Logs = d.logs(lb, s.where)
	}
	for _, sb := range c.blocks["service"] {
		if svc := d.service(sb, s.where); svc != nil {
			t.Services = append(t.Services, svc)
		}
	}
	for _, tb := range c.blocks["template"] {
		if tmpl := d.template(tb, s.where); tmpl != nil {
			t.Templates = append(t.Templates, tmpl)
		}
	}
	for _, ab := range c.blocks["artifact"] {
		if a := d.artifact(ab, s.where); a != nil {
			t.Artifacts = append(t.Artifacts, a)
		}
	}
	return t
}

// artifact decodes `artifact { source, destination, checksum, mode }`; a
// checksum may also come in Nomad's `options { checksum = ... }`.
func (d *decoder) artifact(b *hclsyntax.Block, where string) *Artifact {
	if !d.labels(b, 0, `artifact { source = "https://...", checksum = "sha256:..." }`) {
		return nil
	}
	a := &Artifact{}
	d.pos.set(a, "", b.DefRange())
	c := d.content(b.Body, within(artifactSpec, where+" artifact"))
	if d.str(c, "source", &a.Source) {
		d.pos.set(a, "source", c.attrs["source"].Expr.Range())
	}
	if d.str(c, "destination", &a.Destination) {
		d.pos.set(a, "destination", c.attrs["destination"].Expr.Range())
	}
	if d.str(c, "checksum", &a.Checksum) {
		d.pos.set(a, "checksum", c.attrs["checksum"].Expr.Range())
	}
	if d.str(c, "mode", &a.Mode) {
		d.pos.set(a, "mode", c.attrs["mode"].Expr.Range())
	}
	for _, ob := range c.blocks["options"] {
		oc := d.content(ob.Body, within(artifactOptionsSpec, where+" artifact options"))
		if d.str(oc, "checksum", &a.Checksum) {
			d.pos.set(a, "checksum", oc.attrs["checksum"].Expr.Range())
		}
		d.archiveOption(a, ob) // submitchecks.go
	}
	return a
}

// config decodes the driver's free-form config, as a block or an attribute.
func (d *decoder) config(c content, s spec) map[string]any {
	out := map[string]any{}
	if a := c.attrs["config"]; a != nil {
		if v, ok := d.eval(a); ok {
			m, isMap := ctyToGo(v).(map[string]any)
			if !isMap {
				d.typeErr(a, "an object", v)
			}
			for k, e := range m {
				out[k] = e
			}
		}
	}
	if b := d.single(c, s, "config"); b != nil && d.labels(b, 0, "config { ... }") {
		for k, e := range d.bodyToMap(b.Body) {
			out[k] = e
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (d *decoder) template(b *hclsyntax.Block, where string) *Template {
	if !d.labels(b, 0, "template { data = ..., destination = ... }") {
		return nil
	}
	t := &Template{}
	d.pos.set(t, "", b.DefRange())
	c := d.content(b.Body, within(templateSpec, where+" template"))
	d.str(c, "data", &t.Data)
	d.dataPosition(t, c) // submitchecks.go
	if d.str(c, "source", &t.Source) {
		d.pos.set(t, "source", c.attrs["source"].Expr.Range())
	}
	if d.duration(c, "splay", &t.Splay) {
		d.pos.set(t, "splay", c.attrs["splay"].Expr.Range())
	}
	if d.str(c, "destination", &t.Destination) {
		d.pos.set(t, "destination", c.attrs["destination"].Expr.Range())
	}
	d.boolean(c, "env", &t.Env)
	if d.str(c, "change_mode", &t.ChangeMode) {
		d.pos.set(t, "change_mode", c.attrs["change_mode"].Expr.Range())
	}
	d.str(c, "change_signal", &t.ChangeSignal)
	d.str(c, "perms", &t.Perms)
	d.str(c, "left_delimiter", &t.LeftDelim)
	d.str(c, "right_delimiter", &t.RightDelim)
	return t
}

// logs decodes a task's logs block. Counts given in the file must be 1 or
// more; left out, they take Nomad's defaults (Canonicalize). Nomad 1.6's
// enabled = false is the same as disabled = true.
func (d *decoder) logs(b *hclsyntax.Block, where string) *LogConfig {
	l := &LogConfig{}
	d.pos.set(l, "", b.DefRange())
	c := d.content(b.Body, within(logsSpec, where+" logs"))
	for _, f := range []struct {
		name string
		dst  *int
	}{{"max_files", &l.MaxFiles}, {"max_file_size", &l.MaxFileSizeMB}} {
		if d.integer(c, f.name, f.dst) && *f.dst < 1 {
			d.errorf(c.attrs[f.name].Expr.Range(), fmt.Sprintf("use %s = 1 or more (default 10), or disabled = true to keep no logs", f.name),
				"logs: %s must be at least 1, got %d", f.name, *f.dst)
		}
	}
	d.boolean(c, "disabled", &l.Disabled)
	enabled := true
	if d.boolean(c, "enabled", &enabled) && !enabled {
		l.Disabled = true
	}
	return l
}
