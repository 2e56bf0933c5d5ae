package jobspec

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder walks one file's bodies. It is used by one goroutine, once.
type decoder struct {
	file   string
	ctx    *hcl.EvalContext
	vars   []string // declared variable names, for suggestions
	locals []string // declared local names
	errs   Errors
	warns  Errors
	pos    positions
	budget *budget // what evaluating the file may still cost (limits.go)
	// resched is the job's reschedule block, merged into each group's
	// (reschedule.go).
	resched *rescheduleBlock
	// upd is the job's update block, merged into each group's (update.go).
	upd *updateBlock
	// restartBase is the restart policy of the group being decoded, which
	// its tasks' restart blocks are merged over (restart.go).
	restartBase *RestartPolicy
	// warnedAt holds where warnUnknownRefs has warned: an attribute may be
	// evaluated twice.
	warnedAt map[hcl.Pos]bool
	// varSources is ParseOptions.VarSources: which -var-file a value
	// came from (variables.go).
	varSources map[string]string
}

// spec says which names a block body accepts.
type spec struct {
	where   string             // how messages name the block: `task "api"`
	attrs   []string           // attribute names
	blocks  []string           // block types; a name in both lists may be written either way
	ignored []string           // Nomad names that have no effect here: accepted, with a warning
	refused map[string]refusal // Nomad names Tether refuses (refused.go)
}

// content is a body split by spec.
type content struct {
	attrs  map[string]*hclsyntax.Attribute
	blocks map[string][]*hclsyntax.Block
}

func (d *decoder) errorf(rng hcl.Range, fix, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		File: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column,
		Summary: fmt.Sprintf(format, args...), Fix: fix,
	})
}

func (d *decoder) warnf(rng hcl.Range, format string, args ...any) {
	d.warns = append(d.warns, &Error{
		File: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column,
		Summary: fmt.Sprintf(format, args...),
	})
}

// diags converts HCL's own diagnostics into Errors.
func (d *decoder) diags(ds hcl.Diagnostics) bool {
	ok := true
	for _, dg := range ds {
		if dg.Severity != hcl.DiagError {
			continue
		}
		ok = false
		e := &Error{File: d.file, Summary: strings.TrimSuffix(dg.Summary, ".")}
		if dg.Detail != "" {
			e.Summary += ": " + strings.TrimSuffix(dg.Detail, ".")
		}
		if dg.Subject != nil {
			e.File, e.Line, e.Column = dg.Subject.Filename, dg.Subject.Start.Line, dg.Subject.Start.Column
		}
		d.errs = append(d.errs, e)
	}
	return ok
}

// content splits body by s, reporting unknown and misplaced names.
func (d *decoder) content(body *hclsyntax.Body, s spec) content {
	c := content{attrs: map[string]*hclsyntax.Attribute{}, blocks: map[string][]*hclsyntax.Block{}}
	known := append(append([]string(nil), s.attrs...), s.blocks...)
	for name, a := range body.Attributes {
		switch {
		case slices.Contains(s.attrs, name):
			c.attrs[name] = a
		case s.refused[name].why != "":
			d.refuse(s, name, a.NameRange, a, s.refused[name])
		case slices.Contains(s.ignored, name):
			d.warnf(a.NameRange, "%s: %q has no effect in Tether and is ignored", s.where, name)
		case slices.Contains(s.blocks, name):
			d.errorf(a.NameRange, fmt.Sprintf("write it as a block: %s { ... }", name), "%s: %q is a block, not an attribute", s.where, name)
		default:
			d.errorf(a.NameRange, didYouMean(name, known), "%s: unknown attribute %q", s.where, name)
		}
	}
	for _, b := range body.Blocks {
		switch {
		case slices.Contains(s.blocks, b.Type):
			c.blocks[b.Type] = append(c.blocks[b.Type], b)
		case s.refused[b.Type].why != "":
			d.refuse(s, b.Type, b.TypeRange, nil, s.refused[b.Type])
		case slices.Contains(s.ignored, b.Type):
			d.warnf(b.TypeRange, "%s: block %q has no effect in Tether and is ignored", s.where, b.Type)
		case slices.Contains(s.attrs, b.Type):
			d.errorf(b.TypeRange, fmt.Sprintf("write it as an attribute: %s = ...", b.Type), "%s: %q is an attribute, not a block", s.where, b.Type)
		default:
			d.errorf(b.TypeRange, didYouMean(b.Type, known), "%s: unknown block %q", s.where, b.Type)
		}
	}
	return c
}

// single returns the only block of type name, reporting duplicates.
func (d *decoder) single(c content, s spec, name string) *hclsyntax.Block {
	bs := c.blocks[name]
	if len(bs) == 0 {
		return nil
	}
	for _, b := range bs[1:] {
		d.errorf(b.TypeRange, fmt.Sprintf("merge it with the one at line %d", bs[0].TypeRange.Start.Line), "%s: duplicate %q block", s.where, name)
	}
	return bs[0]
}

// labels checks that b has exactly n labels.
func (d *decoder) labels(b *hclsyntax.Block, n int, hint string) bool {
	if len(b.Labels) == n {
		if n == 1 && strings.TrimSpace(b.Labels[0]) == "" {
			d.errorf(b.DefRange(), fmt.Sprintf("write %s", hint), "%s block has an empty name", b.Type)
			return false
		}
		return true
	}
	if n == 0 {
		d.errorf(b.DefRange(), fmt.Sprintf("write %s", hint), "%s block takes no label", b.Type)
	} else {
		d.errorf(b.DefRange(), fmt.Sprintf("write %s", hint), "%s block needs exactly %d label(s), got %d", b.Type, n, len(b.Labels))
	}
	return false
}

// eval evaluates an attribute's expression, leaving runtime references as
// "${...}" text. ok is false (and an error recorded) when it failed or is null.
func (d *decoder) eval(a *hclsyntax.Attribute) (cty.Value, bool) {
	if d.budget.err != nil {
		return cty.NilVal, false // reported once, where it ran out
	}
	d.warnUnknownRefs(a.Expr)
	a.Expr = rewriteRuntime(a.Expr, nil)
	if !d.checkRefs(a.Expr) {
		return cty.NilVal, false
	}
	// After checkRefs: hcl's Variables() does not see through a metered node.
	a.Expr = meter(a.Expr, d.budget)
	v, ds := a.Expr.Value(d.ctx)
	if d.budget.err == nil {
		d.budget.spend(v, a.Expr.Range())
	}
	if e := d.budget.err; e != nil {
		if e.Line == 0 { // ran out inside a function
			e.File, e.Line, e.Column = a.Expr.Range().Filename, a.Expr.Range().Start.Line, a.Expr.Range().Start.Column
		}
		d.errs = append(d.errs, e)
		return cty.NilVal, false
	}
	if !d.diags(ds) {
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		// Only a variable or local that already failed (and was
		// reported) is unknown; say nothing more.
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return v, false
	}
	return v, true
}

// warnUnknownRefs warns, once per place, about each reference in e whose
// root is neither var, local nor a runtime root (attr, node, meta, env,
// UPPER_CASE): like jobspec2, the decoder keeps it as "${...}" text, but a
// misspelt variable is the likelier meaning of a lower-case name.
func (d *decoder) warnUnknownRefs(e hclsyntax.Expression) {
	types := typeArgRefs(e)
	for _, t := range e.Variables() {
		root := t.RootName()
		if root == "var" || root == "local" || isRuntimeRoot(root) || types[t.SourceRange().Start] {
			continue
		}
		text, ok := renderTraversal(t)
		rng := t.SourceRange()
		if !ok || d.warnedAt[rng.Start] {
			continue // checkRefs reports what cannot be kept as text
		}
		if d.warnedAt == nil {
			d.warnedAt = map[hcl.Pos]bool{}
		}
		d.warnedAt[rng.Start] = true
		hint := fmt.Sprintf("write $%s to keep it as text without this warning", text)
		switch {
		case slices.Contains(d.vars, root):
			hint = fmt.Sprintf("did you mean var.%s?", root)
		case slices.Contains(d.locals, root):
			hint = fmt.Sprintf("did you mean local.%s?", root)
		case suggest(root, d.vars) != "":
			hint = fmt.Sprintf("did you mean var.%s?", suggest(root, d.vars))
		}
		d.warnf(rng, "unknown reference %q is kept as the text %q, as Nomad does; %s", root, text, hint)
	}
}

// checkRefs reports references to undeclared variables and unknown roots
// before HCL's more generic message would.
func (d *decoder) checkRefs(e hclsyntax.Expression) bool {
	ok := true
	types := typeArgRefs(e)
	for _, t := range e.Variables() {
		if types[t.SourceRange().Start] {
			continue
		}
		root := t.RootName()
		rng := t.SourceRange()
		var name string
		if len(t) > 1 {
			switch s := t[1].(type) {
			case hcl.TraverseAttr:
				name = s.Name
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
					name = s.Key.AsString()
				}
			}
		}
		switch root {
		case "var":
			if !slices.Contains(d.vars, name) {
				ok = false
				fix := fmt.Sprintf("declare it: variable %q { type = string }", name)
				if s := suggest(name, d.vars); s != "" {
					fix = fmt.Sprintf("did you mean var.%s?", s)
				}
				d.errorf(rng, fix, "unknown variable var.%s", name)
			}
		case "local":
			if !slices.Contains(d.locals, name) {
				ok = false
				d.errorf(rng, "declare it in a locals { } block", "unknown local local.%s", name)
			}
		default:
			ok = false
			fix := fmt.Sprintf("write var.NAME for a variable; runtime references start with attr., node., meta. or env., or are UPPER_CASE; write $${%s} to keep the text as it is", root)
			if slices.Contains(d.vars, root) {
				fix = fmt.Sprintf("write var.%s", root)
			}
			d.errorf(rng, fix, "unknown reference %q", root)
		}
	}
	return ok
}

func (d *decoder) typeErr(a *hclsyntax.Attribute, want string, v cty.Value) {
	d.errorf(a.Expr.Range(), "", "%q must be %s, got %s", a.Name, want, v.Type().FriendlyName())
}

// str decodes a string attribute into dst; absent leaves dst alone.
func (d *decoder) str(c content, name string, dst *string) bool {
	a := c.attrs[name]
	if a == nil {
		return false
	}
	v, ok := d.eval(a)
	if !ok {
		return false
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		d.typeErr(a, "a string", v)
		return false
	}
	*dst = s.AsString()
	return true
}

// integer decodes a whole-number attribute into dst.
func (d *decoder) integer(c content, name string, dst *int) bool {
	a := c.attrs[name]
	if a == nil {
		return false
	}
	v, ok := d.eval(a)
	if !ok {
		return false
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		d.typeErr(a, "a number", v)
		return false
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i > math.MaxInt32 || i < math.MinInt32 {
		d.errorf(a.Expr.Range(), "use a whole number", "%q must be a whole number, got %s", a.Name, bf.Text('g', 10))
		return false
	}
	*dst = int(i)
	return true
}

// boolean decodes a bool attribute into dst.
func (d *decoder) boolean(c content, name string, dst *bool) bool {
	a := c.attrs[name]
	if a == nil {
		return false
	}
	v, ok := d.eval(a)
	if !ok {
		return false
	}
	b, err := convert.Convert(v, cty.Bool)
	if err != nil {
		d.typeErr(a, "true or false", v)
		return false
	}
	*dst = b.True()
	return true
}

// duration decodes a "30s" / "1h30m" attribute into dst.
func (d *decoder) duration(c content, name string, dst *time.Duration) bool {
	a := c.attrs[name]
	if a == nil {
		return false
	}
	v, ok := d.eval(a)
	if !ok {
		return false
	}
	fix := fmt.Sprintf(`write a duration string such as %s = "30s", "5m" or "1h30m"`, name)
	if v.Type() != cty.String {
		d.errorf(a.Expr.Range(), fix, "bad duration for %q: got %s", name, v.Type().FriendlyName())
		return false
	}
	dur, err := time.ParseDuration(v.AsString())
	if err != nil {
		d.errorf(a.Expr.Range(), fix, "bad duration %q for %q", v.AsString(), name)
		return false
	}
	if dur < 0 {
		d.errorf(a.Expr.Range(), "use a positive duration", "negative duration %q for %q", v.AsString(), name)
		return false
	}
	*dst = dur
	return true
}

// durationPtr is duration for optional fields.
func (d *decoder) durationPtr(c content, name string) *time.Duration {
	var dur time.Duration
	if !d.duration(c, name, &dur) {
		return nil
	}
	return &dur
}

// strList decodes a list of strings.
func (d *decoder) strList(c content, name string) ([]string, bool) {
	a := c.attrs[name]
	if a == nil {
		return nil, false
	}
	v, ok := d.eval(a)
	if !ok {
		return nil, false
	}
	l, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || l.IsNull() {
		d.typeErr(a, "a list of strings", v)
		return nil, false
	}
	out := make([]string, 0, l.LengthInt())
	for it := l.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errorf(a.Expr.Range(), "remove the null element", "%q must not contain null", name)
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}

// strMap decodes meta/env style maps, written either as a block
// (meta { k = "v" }) or as an attribute (meta = { "k.x" = "v" }).
func (d *decoder) strMap(c content, s spec, name string) map[string]string {
	out := map[string]string{}
	if a := c.attrs[name]; a != nil {
		if v, ok := d.eval(a); ok {
			m, err := convert.Convert(v, cty.Map(cty.String))
			if err != nil || m.IsNull() {
				d.typeErr(a, "a map of strings", v)
			} else {
				for k, e := range m.AsValueMap() {
					if !e.IsNull() {
						out[k] = e.AsString()
					}
				}
			}
		}
	}
	for _, b := range c.blocks[name] {
		if !d.labels(b, 0, name+" { KEY = \"value\" }") {
			continue
		}
		for _, nb := range b.Body.Blocks {
			d.errorf(nb.TypeRange, fmt.Sprintf("write %s = \"...\"", nb.Type), "%s: %s holds only KEY = \"value\" pairs, found block %q", s.where, name, nb.Type)
		}
		for k, a := range b.Body.Attributes {
			v, ok := d.eval(a)
			if !ok {
				continue
			}
			sv, err := convert.Convert(v, cty.String)
			if err != nil {
				d.typeErr(a, "a string", v)
				continue
			}
			out[k] = sv.AsString()
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
