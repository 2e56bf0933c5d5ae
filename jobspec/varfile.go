package jobspec

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// MaxVarFileBytes bounds one variables file (-var-file). Its values end up
// in the job, which must fit in a node's 1 MiB desired state.
const MaxVarFileBytes = 1 << 20

// ParseVarFile reads a variables file as `nomad job run -var-file` does:
// `name = value` lines (HCL), or a JSON object when filename ends in
// ".json". Values must be literals (strings, numbers, bools, lists, maps);
// references and function calls are refused, as Nomad refuses them. It
// returns each value in the form ParseOptions.Vars takes (a -var value):
// a string as it is, anything else as HCL text (`["a", "b"]`, `3`).
// Names are checked against the job file's variables only when the job is
// parsed: a name the job does not declare is an error there, as in Nomad.
// Errors are *Error or Errors, with filename:line.
func ParseVarFile(filename string, src []byte) (map[string]string, error) {
	if len(src) > MaxVarFileBytes {
		return nil, &Error{File: filename, Summary: fmt.Sprintf("variables file is %d bytes, more than %d", len(src), MaxVarFileBytes), Fix: "make it smaller"}
	}
	json := strings.HasSuffix(strings.ToLower(filename), ".json")
	if e := checkNesting(filename, src, json); e != nil {
		return nil, e
	}
	var (
		body hcl.Body
		ds   hcl.Diagnostics
	)
	if json {
		var f *hcl.File
		f, ds = hcljson.Parse(src, filename)
		if f != nil {
			body = f.Body
		}
	} else {
		var f *hcl.File
		f, ds = hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
		if f != nil {
			body = f.Body
		}
		if sb, ok := body.(*hclsyntax.Body); ok && !ds.HasErrors() {
			if errs := varFileBlocks(filename, sb); len(errs) > 0 {
				return nil, errs.sorted().err()
			}
		}
	}
	if ds.HasErrors() || body == nil {
		return nil, varFileDiags(filename, ds).err()
	}
	attrs, ds := body.JustAttributes()
	if ds.HasErrors() {
		return nil, varFileDiags(filename, ds).err()
	}
	out := make(map[string]string, len(attrs))
	var errs Errors
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := attrs[name]
		line := a.Range.Start.Line
		if !hclsyntax.ValidIdentifier(name) {
			errs = append(errs, &Error{File: filename, Line: line, Summary: fmt.Sprintf("%q is not a variable name", name), Fix: "use letters, digits, _ and -"})
			continue
		}
		if se, ok := a.Expr.(hclsyntax.Expression); ok {
			if bad := nonLiteral(se); bad != nil {
				errs = append(errs, &Error{File: filename, Line: bad.Range().Start.Line,
					Summary: fmt.Sprintf("variable %q: a variables file holds only literal values (strings, numbers, bools, lists, maps), not references, functions or expressions", name),
					Fix:     "write the value itself, or compute it in the job file with a local"})
				continue
			}
		}
		v, vds := a.Expr.Value(nil) // no context: literals only
		if vds.HasErrors() {
			errs = append(errs, varFileDiags(filename, vds)...)
			continue
		}
		s, err := varString(v)
		if err != nil {
			errs = append(errs, &Error{File: filename, Line: line, Summary: fmt.Sprintf("variable %q: %v", name, err), Fix: "remove the line to keep the job file's default"})
			continue
		}
		out[name] = s
	}
	if len(errs) > 0 {
		return nil, errs.sorted().err()
	}
	return out, nil
}

// varFileBlocks refuses blocks in an HCL variables file; a variable block
// (a declaration, which belongs in the job file) gets its own message.
func varFileBlocks(filename string, b *hclsyntax.Body) Errors {
	var errs Errors
	for _, blk := range b.Blocks {
		line := blk.TypeRange.Start.Line
		if blk.Type == "variable" && len(blk.Labels) == 1 {
			errs = append(errs, &Error{File: filename, Line: line,
				Summary: fmt.Sprintf("variable %q is declared in a variables file, which only sets values", blk.Labels[0]),
				Fix:     fmt.Sprintf("declare it in the job file and write %s = <value> here", blk.Labels[0])})
			continue
		}
		errs = append(errs, &Error{File: filename, Line: line, Summary: fmt.Sprintf("block %q in a variables file", blk.Type), Fix: "write name = value lines only"})
	}
	return errs
}

// nonLiteral returns the first part of e that is not a literal value:
// literals, quoted strings without interpolation, lists, maps with plain
// keys and negative numbers pass.
func nonLiteral(e hclsyntax.Expression) hclsyntax.Expression {
	switch x := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return nil
	case *hclsyntax.TemplateExpr:
		for _, p := range x.Parts {
			if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
				return p
			}
		}
		return nil
	case *hclsyntax.TupleConsExpr:
		for _, it := range x.Exprs {
			if bad := nonLiteral(it); bad != nil {
				return bad
			}
		}
		return nil
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			if k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
				if hcl.ExprAsKeyword(k.Wrapped) == "" {
					if bad := nonLiteral(k.Wrapped); bad != nil {
						return bad
					}
				}
			} else if bad := nonLiteral(it.KeyExpr); bad != nil {
				return bad
			}
			if bad := nonLiteral(it.ValueExpr); bad != nil {
				return bad
			}
		}
		return nil
	case *hclsyntax.UnaryOpExpr:
		if _, ok := x.Val.(*hclsyntax.LiteralValueExpr); ok && x.Op == hclsyntax.OpNegate {
			return nil
		}
		return x
	case *hclsyntax.ParenthesesExpr:
		return nonLiteral(x.Expression)
	default:
		return e
	}
}

// varString renders a value as ParseOptions.Vars takes it.
func varString(v cty.Value) (string, error) {
	switch {
	case v.IsNull():
		return "", fmt.Errorf("null is not a value a variables file can set")
	case !v.IsWhollyKnown():
		return "", fmt.Errorf("the value is not known")
	case v.Type() == cty.String:
		return v.AsString(), nil
	}
	return string(hclwrite.TokensForValue(v).Bytes()), nil
}

// varFileDiags turns hcl diagnostics into Errors with filename:line.
func varFileDiags(filename string, ds hcl.Diagnostics) Errors {
	var errs Errors
	for _, d := range ds {
		if d.Severity != hcl.DiagError {
			continue
		}
		e := &Error{File: filename, Summary: d.Summary}
		if d.Detail != "" {
			e.Summary += ": " + strings.TrimSuffix(d.Detail, ".")
		}
		if d.Subject != nil {
			e.Line, e.Column = d.Subject.Start.Line, d.Subject.Start.Column
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		errs = Errors{{File: filename, Summary: "cannot read the file"}}
	}
	return errs
}

// DeclaredVariables returns the names of the variable blocks of a job
// file, or nil when it does not parse (Parse then says why). The CLI uses
// it to send only the NOMAD_VAR_ values a job declares, and to name a
// -var-file's undeclared variables with their file.
func DeclaredVariables(src []byte) map[string]bool {
	if len(src) > MaxFileBytes || checkNesting("", src, false) != nil {
		return nil
	}
	f, ds := hclsyntax.ParseConfig(src, "", hcl.Pos{Line: 1, Column: 1})
	if ds.HasErrors() {
		return nil
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	out := map[string]bool{}
	for _, b := range body.Blocks {
		switch {
		case b.Type == "variable" && len(b.Labels) == 1:
			out[b.Labels[0]] = true
		case b.Type == "variables" && len(b.Labels) == 0: // variables { name = default }
			for name := range b.Body.Attributes {
				out[name] = true
			}
		}
	}
	return out
}
