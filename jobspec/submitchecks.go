package jobspec

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/tether-edge/tether/agent/template"
	"github.com/tether-edge/tether/drivers/schema"
)

// What a device would refuse is refused at submit, by the code the agent
// runs: a task's driver config goes through drivers/schema (which the
// drivers decode with) and a template's text through agent/template's
// Check (the agent's parser, functions and refusals).

// configPositions remembers where a task's config block and each of its
// keys are, so a driver's complaint about a key points at its line.
func (d *decoder) configPositions(t *Task, c content) {
	if a := c.attrs["config"]; a != nil {
		d.pos.set(t, "config", a.Expr.Range())
		if obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr); ok {
			for _, item := range obj.Items {
				if k, diags := item.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() {
					d.pos.set(t, "config."+k.AsString(), item.KeyExpr.Range())
				}
			}
		}
	}
	for _, b := range c.blocks["config"] {
		d.pos.set(t, "config", b.DefRange())
		for name, a := range b.Body.Attributes {
			d.pos.set(t, "config."+name, a.SrcRange)
		}
		for _, nb := range b.Body.Blocks {
			if _, ok := d.pos[posKey{t, "config." + nb.Type}]; !ok {
				d.pos.set(t, "config."+nb.Type, nb.DefRange())
			}
		}
	}
}

// dataPosition remembers where a template's data is and, for a heredoc,
// the line its text starts on, so an error at line n of the text can
// name the file's line.
func (d *decoder) dataPosition(t *Template, c content) {
	a := c.attrs["data"]
	if a == nil {
		return
	}
	d.pos.set(t, "data", a.Expr.Range())
	te, ok := a.Expr.(*hclsyntax.TemplateExpr)
	if !ok || len(te.Parts) == 0 {
		return
	}
	if first := te.Parts[0].Range(); first.Start.Line > a.Expr.Range().Start.Line {
		d.pos.set(t, "data.text", hcl.Range{Filename: first.Filename, Start: first.Start, End: first.Start})
	}
}

// archiveOption records options { archive = false } (the only value the
// refusal table lets through): the job takes an archive as it is.
func (d *decoder) archiveOption(a *Artifact, ob *hclsyntax.Block) {
	at := ob.Body.Attributes["archive"]
	if at == nil {
		return
	}
	v, ok := d.eval(at)
	if !ok || v.IsNull() || !v.IsKnown() {
		return
	}
	if s, err := convert.Convert(v, cty.String); err == nil && s.AsString() == "false" {
		off := false
		a.Archive = &off
	}
}

// archiveExts are the endings go-getter unpacks (Nomad's default).
var archiveExts = []string{".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".gz", ".bz2", ".xz", ".zst"}

// artifactArchive refuses a source that names an archive unless the job
// asks for the archive itself: Nomad would unpack it, the agent does not,
// and the task would start without the files it expects.
func (v *validator) artifactArchive(a *Artifact, path string) {
	if a.Archive != nil && !*a.Archive {
		return
	}
	p, _, _ := strings.Cut(a.Source, "?")
	p = strings.ToLower(p)
	for _, ext := range archiveExts {
		if strings.HasSuffix(p, ext) {
			v.add(a, "source", path, "download the unpacked file instead, or write options { archive = false } to get the archive itself (and unpack it in a prestart task)",
				"artifact source %q is a %s archive: Nomad unpacks it, the agent downloads it as it is", a.Source, ext)
			return
		}
	}
}

// driverConfig checks a task's config block with its driver's schema;
// ports are the group's port labels.
func (v *validator) driverConfig(t *Task, ports map[string]bool, path string) {
	if !slices.Contains(Drivers, t.Driver) {
		return // the driver itself is reported
	}
	labels := make([]string, 0, len(ports))
	for l := range ports {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	err := schema.Check(t.Driver, t.Config, labels)
	var se *schema.Error
	switch {
	case err == nil:
	case errors.As(err, &se):
		field := "config" // a missing key: the block
		if _, ok := v.pos[posKey{t, "config." + se.Key}]; ok {
			field = "config." + se.Key
		}
		v.add(t, field, path, se.Fix, "task %q: %s driver: %s", t.Name, se.Driver, se.Msg)
	default:
		v.add(t, "config", path, "", "task %q: %v", t.Name, err)
	}
}

// templateText checks a template's data as the agent will parse it. A
// source file is on the node, and is checked there.
func (v *validator) templateText(tm *Template, path string) {
	if tm.Data == "" {
		return
	}
	err := template.Check(tm.Data, tm.LeftDelim, tm.RightDelim)
	if err == nil {
		return
	}
	var te *template.TextError
	if !errors.As(err, &te) {
		v.add(tm, "data", path, "", "template %q: %v", tm.Destination, err)
		return
	}
	if r, ok := v.pos[posKey{tm, "data.text"}]; ok && te.Line > 0 {
		// A heredoc: the text's lines are the file's.
		v.errs = append(v.errs, &Error{File: r.Filename, Line: r.Start.Line + te.Line - 1, Column: 1,
			Summary: fmt.Sprintf("template %q: %s", tm.Destination, te.Msg), Fix: te.Fix})
		return
	}
	where := ""
	if te.Line > 0 {
		where = fmt.Sprintf(" (line %d of its text)", te.Line)
	}
	v.add(tm, "data", path, te.Fix, "template %q%s: %s", tm.Destination, where, te.Msg)
}
