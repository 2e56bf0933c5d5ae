package jobspec

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Bounds on what one job file may cost central to parse and evaluate.
// Job files arrive over the network, so a small file must not be able to
// take the parser's stack or the evaluator's memory and time.
const (
	// MaxNesting bounds how deeply a job file nests: brackets, braces,
	// parentheses, strings, template interpolations and directives, and
	// the operators of one expression each count one level. hcl's parser
	// and evaluator recurse once per level; 100,000 nested "[" overflow
	// the goroutine stack, which no recover catches.
	MaxNesting = 256
	// MaxEvalBytes bounds the values evaluating one job file may produce
	// (strings by their length, other values 32 bytes each, and 256 more for
	// each evaluation), counted where
	// values multiply: for expressions, template interpolations, function
	// arguments and results, and every attribute's value.
	MaxEvalBytes = 32 << 20
	// MaxEvalTime bounds the time spent evaluating one job file's
	// expressions.
	MaxEvalTime = 10 * time.Second
)

// scalarCost is what a number, bool, null or unknown value counts against
// MaxEvalBytes, and each element of a collection on top of its contents.
// evalCost is what one metered evaluation counts on top of its value: a
// for expression's iteration allocates a scope of its own, and this keeps
// what a file may allocate in all within a few times MaxEvalBytes.
const (
	scalarCost = 32
	evalCost   = 256
)

// checkNesting scans src's tokens (without parsing) and returns an error at
// the first place where it nests deeper than MaxNesting. expr is true for
// a lone expression (a -var value), false for a whole file.
func checkNesting(filename string, src []byte, expr bool) *Error {
	// Lexing holds about 500 bytes per byte of input. The lexer reads left
	// to right, so the tokens of a prefix are the file's own up to the cut
	// (the last one or two may differ): a file that is already too deep
	// in its first 64 KB is refused without lexing the rest of it.
	const prefix, margin = 64 << 10, 64
	if len(src) > prefix {
		if e := nestingIn(filename, src[:prefix], expr); e != nil && e.end < prefix-margin {
			return e.Error
		}
	}
	if e := nestingIn(filename, src, expr); e != nil {
		return e.Error
	}
	return nil
}

// nestingErr is checkNesting's error and the byte offset where the token
// that went too deep ends.
type nestingErr struct {
	*Error
	end int
}

func nestingIn(filename string, src []byte, expr bool) *nestingErr {
	lex := hclsyntax.LexConfig
	if expr {
		lex = hclsyntax.LexExpression
	}
	toks, _ := lex(src, filename, hcl.Pos{Line: 1, Column: 1}) // the parser reports lexing errors
	type level struct {
		open  hclsyntax.TokenType
		ops   int // operators since the last separator: each nests the tree one deeper
		terns int // "?" since the last "," or "=": a ? b : c ? d : ... nests on the right
	}
	stack := []level{{}}
	depth := 1 // len(stack) + every level's ops and terns
	for i, t := range toks {
		top := &stack[len(stack)-1]
		opened := hclsyntax.TokenNil
		switch t.Type {
		case hclsyntax.TokenOBrack:
			if i > 0 && endsTerm(toks[i-1].Type) {
				top.ops++ // x[a][b]... nests an index expression per [
				depth++
			}
			opened = t.Type
		case hclsyntax.TokenOBrace, hclsyntax.TokenOParen, hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			opened = t.Type
		case hclsyntax.TokenCBrack, hclsyntax.TokenCBrace, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			// Only a matching close pops: a stray one must not let the
			// parser nest deeper than this count says.
			if len(stack) > 1 && closes(top.open, t.Type) {
				depth -= 1 + top.ops + top.terns
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenIdent:
			// %{ if } and %{ for } open a directive body that
			// %{ endif } and %{ endfor } close.
			if i > 0 && toks[i-1].Type == hclsyntax.TokenTemplateControl {
				switch string(t.Bytes) {
				case "if", "for":
					// The directive's level sits under the %{ level, which
					// its } pops: put it below.
					stack = append(stack[:len(stack)-1], level{open: 'D'}, *top)
					depth++
				case "endif", "endfor":
					if n := len(stack); n > 2 && stack[n-2].open == 'D' {
						depth -= 1 + stack[n-2].ops + stack[n-2].terns
						stack = append(stack[:n-2], stack[n-1])
					}
				}
			}
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			depth -= top.ops + top.terns
			top.ops, top.terns = 0, 0
		case hclsyntax.TokenColon, hclsyntax.TokenFatArrow:
			depth -= top.ops
			top.ops = 0
		case hclsyntax.TokenQuestion:
			top.terns++
			depth++
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan, hclsyntax.TokenLessThanEq,
			hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenBang, hclsyntax.TokenEllipsis:
			top.ops++
			depth++
		}
		if opened != hclsyntax.TokenNil {
			stack = append(stack, level{open: opened})
			depth++
		}
		if depth > MaxNesting {
			return &nestingErr{end: t.Range.End.Byte, Error: &Error{File: filename, Line: t.Range.Start.Line, Column: t.Range.Start.Column,
				Summary: fmt.Sprintf("nested more than %d levels deep (brackets, braces, parentheses, strings, template directives and the operators of one expression each count one)", MaxNesting),
				Fix:     "flatten it: move parts into locals { } or split the expression"}}
		}
	}
	return nil
}

// endsTerm reports whether a token can end an operand, so that a "["
// after it indexes rather than opens a tuple.
func endsTerm(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenStar:
		return true
	}
	return false
}

func closes(open, close hclsyntax.TokenType) bool {
	switch open {
	case hclsyntax.TokenOBrack:
		return close == hclsyntax.TokenCBrack
	case hclsyntax.TokenOBrace:
		return close == hclsyntax.TokenCBrace
	case hclsyntax.TokenOParen:
		return close == hclsyntax.TokenCParen
	case hclsyntax.TokenOQuote:
		return close == hclsyntax.TokenCQuote
	case hclsyntax.TokenOHeredoc:
		return close == hclsyntax.TokenCHeredoc
	case hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
		return close == hclsyntax.TokenTemplateSeqEnd
	}
	return false
}

// budget is what evaluating one job file may still spend. It is used by
// one goroutine (the decoder's).
type budget struct {
	left     int64
	deadline time.Time // set by the first spend
	err      *Error    // the first place it ran out; nil while there is some left
}

func newBudget() *budget { return &budget{left: MaxEvalBytes} }

// spend charges v's size, walking it only as far as the budget lasts, and
// reports whether there is budget left. rng names where, for the error.
func (b *budget) spend(v cty.Value, rng hcl.Range) bool {
	if b.err != nil {
		return false
	}
	if b.deadline.IsZero() {
		b.deadline = time.Now().Add(MaxEvalTime)
	}
	b.left -= evalCost
	b.charge(v)
	switch {
	case b.left < 0:
		b.fail(rng, fmt.Sprintf("evaluating the job file produces more than %d MiB of values", MaxEvalBytes>>20),
			"for expressions, templates and functions multiply values; make the file produce less")
	case time.Now().After(b.deadline):
		b.fail(rng, fmt.Sprintf("evaluating the job file takes longer than %s", MaxEvalTime),
			"simplify its for expressions and functions")
	}
	return b.err == nil
}

func (b *budget) fail(rng hcl.Range, summary, fix string) {
	b.err = &Error{File: rng.Filename, Line: rng.Start.Line, Column: rng.Start.Column, Summary: summary, Fix: fix}
}

func (b *budget) charge(v cty.Value) {
	b.left -= scalarCost
	v, _ = v.Unmark() // a mark says nothing about size; elements unmark in turn
	if b.left < 0 || !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		b.left -= int64(len(v.AsString()))
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next() && b.left >= 0; {
			k, e := it.Element()
			if ty.IsMapType() || ty.IsObjectType() {
				b.charge(k)
			}
			b.charge(e)
		}
	}
}

// metered evaluates an expression and charges its value to a budget. Once
// the budget has run out it returns an unknown value without evaluating,
// so the rest of an expensive expression costs next to nothing; the
// decoder then reports budget.err.
type metered struct {
	hclsyntax.Expression
	b *budget
}

func (m metered) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if m.b.err != nil {
		return cty.DynamicVal, nil
	}
	v, ds := m.Expression.Value(ctx)
	if !m.b.spend(v, m.Expression.Range()) {
		return cty.DynamicVal, ds
	}
	return v, ds
}

// meter wraps, in e's tree, the expressions whose values can multiply a
// small file into a large result: the collection, key, value and
// condition of every for expression and every interpolation in a
// template. It leaves alone the nodes whose type hcl inspects (object
// keys, literal template parts), and runs after rewriteRuntime, which
// inspects them too.
func meter(e hclsyntax.Expression, b *budget) hclsyntax.Expression {
	wrap := func(x hclsyntax.Expression) hclsyntax.Expression {
		if x == nil {
			return nil
		}
		return metered{Expression: meter(x, b), b: b}
	}
	switch x := e.(type) {
	case *hclsyntax.ForExpr:
		// Even a literal value is charged: the iteration is the cost.
		x.CollExpr, x.KeyExpr, x.ValExpr, x.CondExpr = wrap(x.CollExpr), wrap(x.KeyExpr), wrap(x.ValExpr), wrap(x.CondExpr)
	case *hclsyntax.TemplateExpr:
		for i, p := range x.Parts {
			if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit { // hcl looks for literal parts
				x.Parts[i] = wrap(p)
			}
		}
	case *hclsyntax.TemplateWrapExpr:
		x.Wrapped = meter(x.Wrapped, b)
	case *hclsyntax.TemplateJoinExpr:
		x.Tuple = meter(x.Tuple, b)
	case *hclsyntax.FunctionCallExpr:
		for i := range x.Args {
			x.Args[i] = meter(x.Args[i], b)
		}
	case *hclsyntax.TupleConsExpr:
		for i := range x.Exprs {
			x.Exprs[i] = meter(x.Exprs[i], b)
		}
	case *hclsyntax.ObjectConsExpr:
		for i := range x.Items {
			x.Items[i].ValueExpr = meter(x.Items[i].ValueExpr, b)
		}
	case *hclsyntax.ConditionalExpr:
		x.Condition, x.TrueResult, x.FalseResult = meter(x.Condition, b), meter(x.TrueResult, b), meter(x.FalseResult, b)
	case *hclsyntax.BinaryOpExpr:
		x.LHS, x.RHS = meter(x.LHS, b), meter(x.RHS, b)
	case *hclsyntax.UnaryOpExpr:
		x.Val = meter(x.Val, b)
	case *hclsyntax.ParenthesesExpr:
		x.Expression = meter(x.Expression, b)
	case *hclsyntax.IndexExpr:
		x.Collection, x.Key = meter(x.Collection, b), meter(x.Key, b)
	case *hclsyntax.RelativeTraversalExpr:
		x.Source = meter(x.Source, b)
	case *hclsyntax.SplatExpr:
		x.Source = meter(x.Source, b)
	}
	return e
}

// meteredFunc charges f's arguments before the call (a tuple literal can
// repeat one large value many times without copying it) and its result
// after. Out of budget, it returns an unknown value instead of calling f.
func meteredFunc(f function.Function, b *budget) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) },
		Impl: func(args []cty.Value, ret cty.Type) (cty.Value, error) {
			for _, a := range args {
				if !b.spend(a, hcl.Range{}) {
					return cty.UnknownVal(ret), nil
				}
			}
			v, err := f.Call(args)
			if err == nil && !b.spend(v, hcl.Range{}) {
				return cty.UnknownVal(ret), nil
			}
			return v, err
		},
	})
}
