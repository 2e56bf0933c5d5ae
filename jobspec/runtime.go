package jobspec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Runtime references are resolved by the agent, not by the parser: Nomad's
// HCL2 parser leaves them in the job as "${...}" text and so do we, whether
// the user wrote "${attr.cpu.arch}" or the bare attr.cpu.arch.
var runtimeRoots = map[string]bool{"attr": true, "node": true, "meta": true, "env": true}

// isRuntimeRoot reports whether a traversal starting at name is resolved on
// the agent: attr, node, meta, env, and any UPPER_CASE name, which is an
// environment variable of the task (NOMAD_PORT_http, TETHER_ALLOC_ID, or a
// variable set in the task's env block), as Nomad's client interpolates them.
func isRuntimeRoot(name string) bool {
	return runtimeRoots[name] || isEnvName(name)
}

// isEnvName reports whether name looks like an environment variable:
// upper-case letters, digits, '_' and '-' (Nomad port labels may hold '-'),
// starting with a letter or '_'.
func isEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	hasUpper := false
	for _, c := range name {
		switch {
		case c >= 'A' && c <= 'Z':
			hasUpper = true
		case c == '_' || c == '-' || (c >= '0' && c <= '9'):
		case c >= 'a' && c <= 'z':
			// NOMAD_PORT_product-api: lower case is allowed after a
			// NOMAD_/TETHER_ prefix, where port labels and task names go.
			if !strings.HasPrefix(name, "NOMAD_") && !strings.HasPrefix(name, "TETHER_") {
				return false
			}
		default:
			return false
		}
	}
	return hasUpper
}

// renderTraversal writes a runtime traversal back as the text the agent
// interpolates: attr.unique.hostname, meta.rack, NOMAD_PORT_http.
func renderTraversal(t hcl.Traversal) (string, bool) {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteByte('.')
			b.WriteString(s.Name)
		case hcl.TraverseIndex:
			k := s.Key
			if k.IsNull() || !k.IsKnown() {
				return "", false
			}
			switch k.Type() {
			case cty.String:
				b.WriteByte('.')
				b.WriteString(k.AsString())
			case cty.Number:
				b.WriteByte('[')
				b.WriteString(k.AsBigFloat().Text('f', -1))
				b.WriteByte(']')
			default:
				return "", false
			}
		default:
			return "", false
		}
	}
	return "${" + b.String() + "}", true
}

// rewriteRuntime replaces every traversal in e whose root is not var or
// local (runtime references, and unknown names Nomad keeps) by a literal string
// and returns the new expression. shadow holds names bound by enclosing for
// expressions, which are never runtime references.
func rewriteRuntime(e hclsyntax.Expression, shadow map[string]bool) hclsyntax.Expression {
	switch x := e.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		// Runtime roots, and any other root that is not var or local: as
		// jobspec2, an unknown reference is kept as "${...}" text (the
		// decoder warns about those that are not runtime references).
		root := x.Traversal.RootName()
		if shadow[root] || root == "var" || root == "local" {
			return x
		}
		if s, ok := renderTraversal(x.Traversal); ok {
			return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(s), SrcRange: x.SrcRange}
		}
		return x
	case *hclsyntax.TemplateExpr:
		for i := range x.Parts {
			x.Parts[i] = rewriteRuntime(x.Parts[i], shadow)
		}
	case *hclsyntax.TemplateWrapExpr:
		x.Wrapped = rewriteRuntime(x.Wrapped, shadow)
	case *hclsyntax.TemplateJoinExpr:
		x.Tuple = rewriteRuntime(x.Tuple, shadow)
	case *hclsyntax.FunctionCallExpr:
		for i := range x.Args {
			if isTypeArg(x, i) {
				continue
			}
			x.Args[i] = rewriteRuntime(x.Args[i], shadow)
		}
	case *hclsyntax.TupleConsExpr:
		for i := range x.Exprs {
			x.Exprs[i] = rewriteRuntime(x.Exprs[i], shadow)
		}
	case *hclsyntax.ObjectConsExpr:
		for i := range x.Items {
			x.Items[i].KeyExpr = rewriteRuntime(x.Items[i].KeyExpr, shadow)
			x.Items[i].ValueExpr = rewriteRuntime(x.Items[i].ValueExpr, shadow)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		// A bare word key ({ attr = 1 }) is a literal name, not a reference.
		if !x.ForceNonLiteral && hcl.ExprAsKeyword(x.Wrapped) != "" {
			return x
		}
		x.Wrapped = rewriteRuntime(x.Wrapped, shadow)
	case *hclsyntax.ConditionalExpr:
		x.Condition = rewriteRuntime(x.Condition, shadow)
		x.TrueResult = rewriteRuntime(x.TrueResult, shadow)
		x.FalseResult = rewriteRuntime(x.FalseResult, shadow)
	case *hclsyntax.BinaryOpExpr:
		x.LHS = rewriteRuntime(x.LHS, shadow)
		x.RHS = rewriteRuntime(x.RHS, shadow)
	case *hclsyntax.UnaryOpExpr:
		x.Val = rewriteRuntime(x.Val, shadow)
	case *hclsyntax.ParenthesesExpr:
		x.Expression = rewriteRuntime(x.Expression, shadow)
	case *hclsyntax.IndexExpr:
		x.Collection = rewriteRuntime(x.Collection, shadow)
		x.Key = rewriteRuntime(x.Key, shadow)
	case *hclsyntax.RelativeTraversalExpr:
		x.Source = rewriteRuntime(x.Source, shadow)
	case *hclsyntax.SplatExpr:
		x.Source = rewriteRuntime(x.Source, shadow)
	case *hclsyntax.ForExpr:
		x.CollExpr = rewriteRuntime(x.CollExpr, shadow)
		inner := make(map[string]bool, len(shadow)+2)
		for k := range shadow {
			inner[k] = true
		}
		if x.KeyVar != "" {
			inner[x.KeyVar] = true
		}
		inner[x.ValVar] = true
		x.KeyExpr = rewriteMaybe(x.KeyExpr, inner)
		x.ValExpr = rewriteRuntime(x.ValExpr, inner)
		x.CondExpr = rewriteMaybe(x.CondExpr, inner)
	}
	return e
}

func rewriteMaybe(e hclsyntax.Expression, shadow map[string]bool) hclsyntax.Expression {
	if e == nil {
		return nil
	}
	return rewriteRuntime(e, shadow)
}

// isTypeArg reports whether call's argument i is a type (convert's second:
// convert(x, list(string))), whose words are keywords, not references.
func isTypeArg(call *hclsyntax.FunctionCallExpr, i int) bool {
	return call.Name == "convert" && i == 1
}

// typeArgRefs returns where the traversals in e's type arguments start:
// hcl's Variables() lists them as references.
func typeArgRefs(e hclsyntax.Expression) map[hcl.Pos]bool {
	var at map[hcl.Pos]bool
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		for i, a := range call.Args {
			if !isTypeArg(call, i) {
				continue
			}
			for _, t := range a.Variables() {
				if at == nil {
					at = map[hcl.Pos]bool{}
				}
				at[t.SourceRange().Start] = true
			}
		}
		return nil
	})
	return at
}
