package jobspec

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// functions returns the HCL functions a job file may call: the string,
// collection and encoding helpers job files commonly use. There is no
// file() or env(): a job is parsed on central, not where it was written.
// range() is left out so a submitted file cannot ask for a huge list.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"abs":        stdlib.AbsoluteFunc,
		"ceil":       stdlib.CeilFunc,
		"chomp":      stdlib.ChompFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"compact":    stdlib.CompactFunc,
		"concat":     stdlib.ConcatFunc,
		"contains":   stdlib.ContainsFunc,
		"distinct":   stdlib.DistinctFunc,
		"element":    stdlib.ElementFunc,
		"flatten":    stdlib.FlattenFunc,
		"floor":      stdlib.FloorFunc,
		"format":     guarded(stdlib.FormatFunc, checkFormatWidth),
		"formatlist": guarded(stdlib.FormatListFunc, checkFormatWidth),
		"indent":     guarded(stdlib.IndentFunc, checkIndent),
		"index":      stdlib.IndexFunc,
		"join":       stdlib.JoinFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"keys":       stdlib.KeysFunc,
		"length":     stdlib.LengthFunc,
		"lookup":     stdlib.LookupFunc,
		"lower":      stdlib.LowerFunc,
		"max":        stdlib.MaxFunc,
		"merge":      stdlib.MergeFunc,
		"min":        stdlib.MinFunc,
		"parseint":   stdlib.ParseIntFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"replace":    guarded(stdlib.ReplaceFunc, checkReplace),
		"reverse":    stdlib.ReverseListFunc,
		"slice":      stdlib.SliceFunc,
		"sort":       stdlib.SortFunc,
		"split":      stdlib.SplitFunc,
		"strlen":     stdlib.StrlenFunc,
		"substr":     stdlib.SubstrFunc,
		"title":      stdlib.TitleFunc,
		"tobool":     stdlib.MakeToFunc(cty.Bool),
		"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":   stdlib.MakeToFunc(cty.Number),
		"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":   stdlib.MakeToFunc(cty.String),
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"upper":      stdlib.UpperFunc,
		"values":     stdlib.ValuesFunc,
		"zipmap":     stdlib.ZipmapFunc,
	}
}

// meteredFunctions is functions() with every call charged to b.
func meteredFunctions(b *budget) map[string]function.Function {
	fs := functions()
	for name, f := range fs {
		fs[name] = meteredFunc(f, b)
	}
	return fs
}

// Limits on functions that could otherwise build a huge string from a
// small file (format("%900000000s", "x") takes ~1 GB and 40 s).
const (
	maxFormatWidth = 4096
	maxIndent      = 1024
	maxReplaceOut  = 16 << 20
)

// guarded wraps f so that check runs on the arguments first.
func guarded(f function.Function, check func(args []cty.Value) error) function.Function {
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type:        func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) },
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for _, a := range args {
				if !a.IsWhollyKnown() {
					return f.Call(args)
				}
			}
			if err := check(args); err != nil {
				return cty.NilVal, err
			}
			return f.Call(args)
		},
	})
}

// checkFormatWidth rejects width or precision above maxFormatWidth in a
// format string (the first argument).
func checkFormatWidth(args []cty.Value) error {
	if len(args) == 0 || args[0].IsNull() || args[0].Type() != cty.String {
		return nil
	}
	s := args[0].AsString()
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		n := 0
		for i++; i < len(s) && s[i] != '%' && !isVerb(s[i]); i++ {
			if s[i] >= '0' && s[i] <= '9' {
				n = n*10 + int(s[i]-'0')
				if n > maxFormatWidth {
					return fmt.Errorf("format width or precision above %d", maxFormatWidth)
				}
			} else {
				n = 0
			}
		}
	}
	return nil
}

func isVerb(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func checkIndent(args []cty.Value) error {
	if len(args) > 0 && !args[0].IsNull() && args[0].Type() == cty.Number {
		if bf := args[0].AsBigFloat(); bf.Cmp(big.NewFloat(maxIndent)) > 0 {
			return fmt.Errorf("indent above %d spaces", maxIndent)
		}
	}
	return nil
}

func checkReplace(args []cty.Value) error {
	if len(args) != 3 {
		return nil
	}
	for _, a := range args {
		if a.IsNull() || a.Type() != cty.String {
			return nil
		}
	}
	s, old, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
	n := strings.Count(s, old)
	if old == "" {
		n = len(s) + 1
	}
	if len(s)+n*len(repl) > maxReplaceOut {
		return fmt.Errorf("result would be more than %d bytes", maxReplaceOut)
	}
	return nil
}
