package jobspec

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var (
	variableSpec = spec{
		attrs:   []string{"type", "default", "description"},
		blocks:  []string{"validation"},
		ignored: []string{"sensitive", "nullable"},
	}
	validationSpec = spec{attrs: []string{"condition", "error_message"}}
)

// variables declares the file's variables, applies -var overrides and puts
// the result in d.ctx as var.NAME.
func (d *decoder) variables(blocks []*hclsyntax.Block, given map[string]string) {
	values := map[string]cty.Value{}
	declared := map[string]*hclsyntax.Block{}
	var checks []*hclsyntax.Block
	for _, b := range blocks {
		if !d.labels(b, 1, `variable "name" { ... }`) {
			continue
		}
		name := b.Labels[0]
		if prev, dup := declared[name]; dup {
			d.errorf(b.DefRange(), fmt.Sprintf("remove one; the first is at line %d", prev.DefRange().Start.Line), "variable %q is declared twice", name)
			continue
		}
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0], "use letters, digits, _ and -", "variable name %q is not a valid identifier", name)
			continue
		}
		declared[name] = b
		d.vars = append(d.vars, name)
	}
	for _, b := range blocks {
		if len(b.Labels) != 1 || declared[b.Labels[0]] != b {
			continue
		}
		name := b.Labels[0]
		s := variableSpec
		s.where = fmt.Sprintf("variable %q", name)
		c := d.content(b.Body, s)
		checks = append(checks, c.blocks["validation"]...)
		typ := cty.DynamicPseudoType
		if a := c.attrs["type"]; a != nil {
			t, ds := typeexpr.TypeConstraint(a.Expr)
			if !d.diags(ds) {
				continue
			}
			typ = t
		}
		var val cty.Value
		if raw, ok := given[name]; ok {
			v, err := d.varFromString(raw, typ)
			if err != nil {
				d.errs = append(d.errs, &Error{File: d.file, Summary: fmt.Sprintf("-var %s=%q: %v", name, raw, err),
					Fix: fmt.Sprintf("pass a value of type %s", typ.FriendlyNameForConstraint())})
				continue
			}
			val = v
		} else if a := c.attrs["default"]; a != nil {
			v, ok := d.eval(a)
			if !ok && v == cty.NilVal {
				continue
			}
			cv, err := convert.Convert(v, typ)
			if err != nil {
				d.errorf(a.Expr.Range(), "", "variable %q: default does not match type %s: %v", name, typ.FriendlyNameForConstraint(), err)
				continue
			}
			val = cv
		} else {
			d.errorf(b.DefRange(), fmt.Sprintf("pass -var %s=value, or give it a default", name), "variable %q has no value", name)
			continue
		}
		values[name] = val
	}
	var unknown []string
	for name := range given {
		if _, ok := declared[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		fix := fmt.Sprintf("declare it in the file: variable %q { type = string }", name)
		if s := suggest(name, d.vars); s != "" {
			fix = fmt.Sprintf("did you mean -var %s=...?", s)
		}
		d.errs = append(d.errs, &Error{File: d.file, Summary: fmt.Sprintf("-var %s: the file declares no variable %q", name, name), Fix: fix})
	}
	// Variables that failed still get a value so later references do not
	// add a second, confusing error.
	for _, name := range d.vars {
		if _, ok := values[name]; !ok {
			values[name] = cty.DynamicVal
		}
	}
	d.ctx.Variables["var"] = cty.ObjectVal(values)
	for _, vb := range checks {
		d.validation(vb)
	}
}

// validation checks one variable validation { condition, error_message }.
func (d *decoder) validation(b *hclsyntax.Block) {
	if !d.labels(b, 0, "validation { condition = ..., error_message = ... }") {
		return
	}
	c := d.content(b.Body, within(validationSpec, "validation"))
	a := c.attrs["condition"]
	if a == nil {
		d.errorf(b.DefRange(), "add condition = <expression that is true for a good value>", "validation has no condition")
		return
	}
	msg := "the value is not valid"
	d.str(c, "error_message", &msg)
	v, ok := d.eval(a)
	if !ok {
		return
	}
	bv, err := convert.Convert(v, cty.Bool)
	if err != nil {
		d.typeErr(a, "true or false", v)
		return
	}
	if bv.False() {
		d.errorf(a.Expr.Range(), "pass a value that satisfies the condition", "%s", strings.TrimSuffix(msg, "."))
	}
}

// varFromString converts a -var value to the variable's type: strings as
// they are, numbers and bools by conversion, lists/maps/objects as HCL
// expressions (-var 'dcs=["dc1","dc2"]').
func (d *decoder) varFromString(s string, typ cty.Type) (cty.Value, error) {
	if typ == cty.DynamicPseudoType || typ == cty.String {
		return cty.StringVal(s), nil
	}
	if typ.IsPrimitiveType() {
		v, err := convert.Convert(cty.StringVal(strings.TrimSpace(s)), typ)
		if err != nil {
			return cty.NilVal, fmt.Errorf("not a %s", typ.FriendlyName())
		}
		return v, nil
	}
	if e := checkNesting("-var", []byte(s), true); e != nil {
		return cty.NilVal, fmt.Errorf("%s; %s", e.Summary, e.Fix)
	}
	expr, ds := hclsyntax.ParseExpression([]byte(s), "-var", hcl.Pos{Line: 1, Column: 1})
	if ds.HasErrors() {
		return cty.NilVal, fmt.Errorf("not an HCL value: %s", ds[0].Summary)
	}
	v, ds := meter(expr, d.budget).Value(&hcl.EvalContext{Functions: meteredFunctions(d.budget)})
	if e := d.budget.err; e != nil || (!ds.HasErrors() && !d.budget.spend(v, expr.Range())) {
		return cty.NilVal, fmt.Errorf("%s; %s", d.budget.err.Summary, d.budget.err.Fix)
	}
	if ds.HasErrors() {
		return cty.NilVal, fmt.Errorf("cannot evaluate: %s", ds[0].Detail)
	}
	v, err := convert.Convert(v, typ)
	if err != nil {
		return cty.NilVal, fmt.Errorf("not a %s: %v", typ.FriendlyNameForConstraint(), err)
	}
	return v, nil
}

// locals evaluates locals { } blocks in dependency order into local.NAME.
func (d *decoder) localValues(blocks []*hclsyntax.Block) {
	attrs := map[string]*hclsyntax.Attribute{}
	for _, b := range blocks {
		if !d.labels(b, 0, "locals { name = value }") {
			continue
		}
		for _, nb := range b.Body.Blocks {
			d.errorf(nb.TypeRange, "write name = value", "locals holds only attributes, found block %q", nb.Type)
		}
		for name, a := range b.Body.Attributes {
			if prev, dup := attrs[name]; dup {
				d.errorf(a.NameRange, fmt.Sprintf("remove one; the first is at line %d", prev.NameRange.Start.Line), "local %q is declared twice", name)
				continue
			}
			attrs[name] = a
			d.locals = append(d.locals, name)
		}
	}
	sort.Strings(d.locals)
	values := map[string]cty.Value{}
	pending := slices.Clone(d.locals)
	for len(pending) > 0 {
		var next []string
		for _, name := range pending {
			if !localDepsReady(attrs[name].Expr, attrs, values) {
				next = append(next, name)
				continue
			}
			d.ctx.Variables["local"] = cty.ObjectVal(values)
			v, ok := d.eval(attrs[name])
			if !ok && v == cty.NilVal {
				v = cty.DynamicVal
			} else if !ok {
				v = cty.NullVal(cty.DynamicPseudoType)
			}
			values[name] = v
		}
		if len(next) == len(pending) {
			for _, name := range next {
				d.errorf(attrs[name].NameRange, "break the cycle", "local %q depends on itself", name)
				values[name] = cty.DynamicVal
			}
			break
		}
		pending = next
	}
	d.ctx.Variables["local"] = cty.ObjectVal(values)
}

// localDepsReady reports whether every local.X that e reads has a value
// (references to undeclared locals count as ready: eval reports them).
func localDepsReady(e hclsyntax.Expression, declared map[string]*hclsyntax.Attribute, have map[string]cty.Value) bool {
	for _, t := range e.Variables() {
		if t.RootName() != "local" || len(t) < 2 {
			continue
		}
		if a, ok := t[1].(hcl.TraverseAttr); ok {
			if _, done := have[a.Name]; !done && declared[a.Name] != nil {
				return false
			}
		}
	}
	return true
}
