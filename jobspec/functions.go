package jobspec

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/hashicorp/go-cty-funcs/cidr"
	"github.com/hashicorp/go-cty-funcs/crypto"
	"github.com/hashicorp/go-cty-funcs/encoding"
	"github.com/hashicorp/go-cty-funcs/filesystem"
	"github.com/hashicorp/go-cty-funcs/uuid"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	ctyyaml "github.com/zclconf/go-cty-yaml"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"gopkg.in/yaml.v3"
)

// functions returns the HCL functions a job file may call: Nomad's jobspec2
// set (go-cty's stdlib, hashicorp/go-cty-funcs, go-cty-yaml, hcl's try and
// convert), plus the to* conversions. Where a call's cost grows faster than
// its arguments (format widths, replacements, bcrypt's cost, a cartesian
// product, a deeply nested document), a guard refuses it before it runs;
// every call is also charged to the file's budget by meteredFunctions.
// files answers file(), filebase64() and fileexists(); functions that
// depend on the machine that parses the file (abspath, pathexpand,
// fileset) are refused with what to write instead.
func functions(files *fileReader) map[string]function.Function {
	return map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"base64decode":    encoding.Base64DecodeFunc,
		"base64encode":    encoding.Base64EncodeFunc,
		"bcrypt":          guarded(crypto.BcryptFunc, checkBcryptCost),
		"can":             tryfunc.CanFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"cidrhost":        cidr.HostFunc,
		"cidrnetmask":     cidr.NetmaskFunc,
		"cidrsubnet":      cidr.SubnetFunc,
		"cidrsubnets":     cidr.SubnetsFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"convert":         typeexpr.ConvertFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          guarded(stdlib.FormatFunc, checkFormatWidth),
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      guarded(stdlib.FormatListFunc, checkFormatWidth),
		"indent":          guarded(stdlib.IndentFunc, checkIndent),
		"index":           stdlib.IndexFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      guarded(stdlib.JSONDecodeFunc, checkDocDepth),
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             guarded(stdlib.LogFunc, checkLog),
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"md5":             crypto.Md5Func,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             guarded(stdlib.PowFunc, checkPow),
		"range":           stdlib.RangeFunc, // go-cty stops at 1,024 values
		"regex":           stdlib.RegexFunc,
		"regex_replace":   guarded(stdlib.RegexReplaceFunc, checkRegexReplace),
		"regexall":        stdlib.RegexAllFunc,
		"replace":         guarded(stdlib.ReplaceFunc, checkReplace),
		"reverse":         stringOrList(stdlib.ReverseFunc, stdlib.ReverseListFunc),
		"rsadecrypt":      guarded(crypto.RsaDecryptFunc, checkRSAKey),
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      guarded(stdlib.SetProductFunc, checkProduct),
		"setunion":        stdlib.SetUnionFunc,
		"sha1":            crypto.Sha1Func,
		"sha256":          crypto.Sha256Func,
		"sha512":          crypto.Sha512Func,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":        stdlib.MakeToFunc(cty.String),
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"try":             tryfunc.TryFunc,
		"upper":           stdlib.UpperFunc,
		"urlencode":       encoding.URLEncodeFunc,
		"uuidv4":          uuid.V4Func,
		"uuidv5":          uuid.V5Func,
		"values":          stdlib.ValuesFunc,
		"yamldecode":      guarded(ctyyaml.YAMLDecodeFunc, checkYAMLDoc),
		"yamlencode":      ctyyaml.YAMLEncodeFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// Paths and files.
		"basename":   filesystem.BasenameFunc,
		"dirname":    filesystem.DirnameFunc,
		"file":       files.fileFunc(false),
		"filebase64": files.fileFunc(true),
		"fileexists": files.existsFunc(),
		"abspath": refusedFunc(filesystem.AbsPathFunc,
			"abspath() answers with a directory of the machine that parses the job, and central parses it again",
			"write the path the task should see, e.g. \"${NOMAD_TASK_DIR}/x\", or a path relative to the job file for file()"),
		"pathexpand": refusedFunc(filesystem.PathExpandFunc,
			"pathexpand() answers with the home directory of the machine that parses the job, and central parses it again",
			"write the path in full"),
		"fileset": refusedFunc(filesystem.MakeFileSetFunc("."),
			"fileset() lists a directory of the machine that parses the job, and central, which parses it again, has only the files file() read",
			"list the files: [for f in [\"a.conf\", \"b.conf\"] : file(f)]"),
	}
}

// meteredFunctions is functions(files) with every call charged to b.
func meteredFunctions(b *budget, files *fileReader) map[string]function.Function {
	fs := functions(files)
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

// guarded wraps f so that check runs on the arguments first, before f's
// type function too: jsondecode and yamldecode parse their document there.
func guarded(f function.Function, check func(args []cty.Value) error) function.Function {
	checked := func(args []cty.Value) error {
		for _, a := range args {
			if !a.IsWhollyKnown() {
				return nil
			}
		}
		return check(args)
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			if err := checked(args); err != nil {
				return cty.NilType, err
			}
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := checked(args); err != nil {
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

// More limits on what one call may cost.
const (
	// maxBcryptCost bounds bcrypt()'s cost: each step doubles its time
	// (10, the default, takes about 50 ms; 31 would take days).
	maxBcryptCost = 12
	// maxDocDepth bounds how deeply a document given to jsondecode() or
	// yamldecode() nests: their decoders recurse once per level.
	maxDocDepth = 10000
	// maxRSAKeyBytes bounds rsadecrypt()'s key (an 8192-bit key in PEM).
	maxRSAKeyBytes = 8 << 10
	// maxProductValues bounds the values setproduct() would build.
	maxProductValues = 1 << 20
	// maxYAMLNodes bounds the nodes a document given to yamldecode() has
	// once its aliases are expanded: 30 lines of aliases can stand for
	// 10^30 values, and go-cty-yaml compares their types one by one.
	maxYAMLNodes = 1 << 20
)

// stringOrList is Nomad's reverse(): jobspec2 binds it to go-cty's string
// reverse while its documentation describes a list; both are accepted.
func stringOrList(str, list function.Function) function.Function {
	pick := func(args []cty.Value) function.Function {
		if len(args) == 1 && args[0].Type() == cty.String {
			return str
		}
		return list
	}
	return function.New(&function.Spec{
		Description: "Reverses a string or a list.",
		Params:      []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType}},
		Type:        func(args []cty.Value) (cty.Type, error) { return pick(args).ReturnTypeForValues(args) },
		Impl:        func(args []cty.Value, _ cty.Type) (cty.Value, error) { return pick(args).Call(args) },
	})
}

// refusedFunc is f refused when called, with why and what to write.
func refusedFunc(f function.Function, why, fix string) function.Function {
	return function.New(&function.Spec{
		Params:   f.Params(),
		VarParam: f.VarParam(),
		Type:     function.StaticReturnType(cty.DynamicPseudoType),
		Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
			return cty.NilVal, fmt.Errorf("%s; %s", why, fix)
		},
	})
}

func checkBcryptCost(args []cty.Value) error {
	if len(args) < 2 || args[1].IsNull() || args[1].Type() != cty.Number {
		return nil
	}
	if args[1].AsBigFloat().Cmp(big.NewFloat(maxBcryptCost)) > 0 {
		return fmt.Errorf("bcrypt cost above %d (each step doubles the time central spends parsing the job); pass a cost of %d or less", maxBcryptCost, maxBcryptCost)
	}
	return nil
}

// checkDocDepth refuses a document that nests deeper than maxDocDepth:
// brackets and braces, and for YAML a line's indentation and its "- "
// entries, each count one level.
func checkDocDepth(args []cty.Value) error {
	if len(args) == 0 || args[0].IsNull() || args[0].Type() != cty.String {
		return nil
	}
	s := args[0].AsString()
	brackets, line, lineStart := 0, 0, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			line, lineStart = 0, true
			continue
		case c == '[' || c == '{':
			brackets++
		case (c == ']' || c == '}') && brackets > 0:
			brackets--
		case lineStart && (c == ' ' || c == '\t' || c == '-'):
			line++
		}
		if c := s[i]; c != ' ' && c != '\t' && c != '-' {
			lineStart = false
		}
		if brackets+line > maxDocDepth {
			return fmt.Errorf("the document nests more than %d levels deep", maxDocDepth)
		}
	}
	return nil
}

// checkYAMLDoc is checkDocDepth, and refuses a document whose aliases
// expand to more than maxYAMLNodes nodes (counted on the parsed tree, each
// anchor's size once).
func checkYAMLDoc(args []cty.Value) error {
	if err := checkDocDepth(args); err != nil || len(args) == 0 || args[0].IsNull() || args[0].Type() != cty.String {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal([]byte(args[0].AsString()), &doc) != nil {
		return nil // yamldecode reports it
	}
	sizes := map[*yaml.Node]int64{}
	var size func(n *yaml.Node) int64
	size = func(n *yaml.Node) int64 {
		if v, ok := sizes[n]; ok {
			return v
		}
		sizes[n] = maxYAMLNodes + 1 // an alias of its own ancestor
		total := int64(1)
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			total += size(n.Alias)
		}
		for _, c := range n.Content {
			if total += size(c); total > maxYAMLNodes {
				break
			}
		}
		sizes[n] = total
		return total
	}
	if size(&doc) > maxYAMLNodes {
		return fmt.Errorf("the document's aliases expand it to more than %d values", maxYAMLNodes)
	}
	return nil
}

// checkLog and checkPow refuse what has no real result: go-cty would
// panic on the NaN (recovered, but reported with a stack trace).
func checkLog(args []cty.Value) error {
	if len(args) != 2 || args[0].IsNull() || args[1].IsNull() || args[0].Type() != cty.Number || args[1].Type() != cty.Number {
		return nil
	}
	if args[0].AsBigFloat().Sign() < 0 || args[1].AsBigFloat().Sign() <= 0 || args[1].AsBigFloat().Cmp(big.NewFloat(1)) == 0 {
		return fmt.Errorf("log takes a number of zero or more and a positive base other than 1")
	}
	return nil
}

func checkPow(args []cty.Value) error {
	if len(args) != 2 || args[0].IsNull() || args[1].IsNull() || args[0].Type() != cty.Number || args[1].Type() != cty.Number {
		return nil
	}
	if args[0].AsBigFloat().Sign() < 0 && !args[1].AsBigFloat().IsInt() {
		return fmt.Errorf("a negative number to a power that is not whole has no real result")
	}
	return nil
}

func checkRSAKey(args []cty.Value) error {
	if len(args) == 2 && !args[1].IsNull() && args[1].Type() == cty.String && len(args[1].AsString()) > maxRSAKeyBytes {
		return fmt.Errorf("private key longer than %d bytes (larger keys take central seconds per call)", maxRSAKeyBytes)
	}
	return nil
}

func checkProduct(args []cty.Value) error {
	total := int64(1)
	for _, a := range args {
		a, _ = a.Unmark()
		if a.IsNull() || !a.Type().IsCollectionType() && !a.Type().IsTupleType() {
			return nil // the function's own checks report it
		}
		total *= int64(a.LengthInt())
		if total*int64(len(args)) > maxProductValues {
			return fmt.Errorf("the product would hold more than %d values", maxProductValues)
		}
	}
	return nil
}

// checkRegexReplace bounds regex_replace()'s result like checkReplace:
// each match becomes the replacement, whose $n each expand to at most
// the match.
func checkRegexReplace(args []cty.Value) error {
	if len(args) != 3 {
		return nil
	}
	for _, a := range args {
		if a.IsNull() || a.Type() != cty.String {
			return nil
		}
	}
	s, pattern, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
	refs := int64(strings.Count(repl, "$"))
	bound := func(matches int64) int64 { return int64(len(s)) + matches*int64(len(repl)) + refs*int64(len(s)) }
	if bound(int64(len(s))+1) <= maxReplaceOut {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil // the function reports it
	}
	if bound(int64(len(re.FindAllStringIndex(s, -1)))) > maxReplaceOut {
		return fmt.Errorf("result would be more than %d bytes", maxReplaceOut)
	}
	return nil
}
