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
		attrs:  []string{"type", "default", "description"},
		blocks: []string{"validation"},
		refused: map[string]refusal{
			"sensitive": {why: "Nomad's job files have no sensitive variables (a Terraform setting): the value is stored and shown with the job like any other",
				fix: "remove it, and keep the secret out of the job: render it with a template { } from a file on the node", same: []string{"false"}},
			"nullable": {why: "Nomad's job files have no nullable (a Terraform setting)",
				fix: "remove it; a variable's value is never null unless its default is", same: []string{"true"}},
		},
	}
	validationSpec = spec{attrs: []string{"condition", "error_message"}}
)

// variables declares the file's variables (variable "name" { } blocks and
// the attributes of variables { } blocks), applies the values given (-var:
// vars; the environment's NOMAD_VAR_name: env, below vars, for declared
// names only) and puts the result in d.ctx as var.NAME.
func (d *decoder) variables(blocks, shorthand []*hclsyntax.Block, given, env map[string]string) {
	values := map[string]cty.Value{}
	declared := map[string]hcl.Range{}
	var checks []*hclsyntax.Block
	type decl struct {
		name  string
		block *hclsyntax.Block     // variable "name" { }
		attr  *hclsyntax.Attribute // or a variables { name = default } attribute
	}
	var decls []decl
	declare := func(name string, rng hcl.Range, nameRng hcl.Range) bool {
		if prev, dup := declared[name]; dup {
			d.errorf(rng, fmt.Sprintf("remove one; the first is at line %d", prev.Start.Line), "variable %q is declared twice", name)
			return false
		}
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(nameRng, "use letters, digits, _ and -", "variable name %q is not a valid identifier", name)
			return false
		}
		declared[name] = rng
		d.vars = append(d.vars, name)
		return true
	}
	for _, b := range blocks {
		if d.labels(b, 1, `variable "name" { ... }`) && declare(b.Labels[0], b.DefRange(), b.LabelRanges[0]) {
			decls = append(decls, decl{name: b.Labels[0], block: b})
		}
	}
	for _, b := range shorthand {
		if !d.labels(b, 0, `variables { name = "default" }`) {
			continue
		}
		for _, nb := range b.Body.Blocks {
			d.errorf(nb.TypeRange, `write name = default, or a variable "name" { } block`, "variables holds only attributes, found block %q", nb.Type)
		}
		attrs := make([]*hclsyntax.Attribute, 0, len(b.Body.Attributes))
		for _, a := range b.Body.Attributes {
			attrs = append(attrs, a)
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
		for _, a := range attrs {
			if declare(a.Name, a.NameRange, a.NameRange) {
				decls = append(decls, decl{name: a.Name, attr: a})
			}
		}
	}
	for _, dc := range decls {
		name := dc.name
		typ := cty.DynamicPseudoType
		typed := false
		defAttr := dc.attr
		if b := dc.block; b != nil {
			s := variableSpec
			s.where = fmt.Sprintf("variable %q", name)
			c := d.content(b.Body, s)
			checks = append(checks, c.blocks["validation"]...)
			if a := c.attrs["type"]; a != nil {
				t, ds := typeexpr.TypeConstraint(a.Expr)
				if !d.diags(ds) {
					continue
				}
				typ, typed = t, true
			}
			defAttr = c.attrs["default"]
		}
		var def cty.Value
		if defAttr != nil {
			v, ok := d.eval(defAttr)
			if !ok && v == cty.NilVal {
				continue
			}
			if !typed && v.Type().IsPrimitiveType() {
				typ = v.Type() // as Nomad: a default's type is the variable's
			}
			cv, err := convert.Convert(v, typ)
			if err != nil {
				d.errorf(defAttr.Expr.Range(), "", "variable %q: default does not match type %s: %v", name, typ.FriendlyNameForConstraint(), err)
				continue
			}
			def = cv
		}
		raw, ok := given[name]
		fromEnv := false
		if !ok {
			raw, ok = env[name]
			fromEnv = ok
		}
		var val cty.Value
		switch {
		case ok:
			v, err := d.varFromString(raw, typ)
			if err != nil {
				label := fmt.Sprintf("-var %s=%q", name, raw)
				if src := d.varSources[name]; src != "" && !fromEnv {
					label = fmt.Sprintf("%s: %s = %s", src, name, raw)
				}
				if fromEnv {
					label = fmt.Sprintf("environment variable NOMAD_VAR_%s=%q", name, raw)
				}
				d.errs = append(d.errs, &Error{File: d.file, Summary: fmt.Sprintf("%s: %v", label, err),
					Fix: fmt.Sprintf("pass a value of type %s", typ.FriendlyNameForConstraint())})
				continue
			}
			val = v
		case defAttr != nil:
			val = def
		default:
			d.errorf(dc.block.DefRange(), fmt.Sprintf("pass -var %s=value, set NOMAD_VAR_%s, or give it a default", name, name), "variable %q has no value", name)
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
	v, ds := meter(expr, d.budget).Value(&hcl.EvalContext{Functions: meteredFunctions(d.budget, nil)})
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
