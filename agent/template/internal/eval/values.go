package eval

import (
	"fmt"
	"strings"
	"text/template/parse"
)

// A Record is a struct value a template reads fields of ({{.Address}}).
// Field returns the exported field called name, ok false if there is none.
// Records are struct values whose fields include a list, so two Records
// never compare equal: eq on them is an error, as in text/template.
type Record interface {
	Field(name string) (v any, ok bool)
}

// A Type is what a function parameter accepts.
type Type int

// Parameter types.
const (
	Any     Type = iota // any value
	String              // a string
	Strings             // a []string
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Strings:
		return "[]string"
	}
	return "interface {}"
}

// A Func is a function a template may call. Params are its parameters, in
// order (no variadic functions); Call gets exactly len(Params) arguments,
// each of its parameter's type, and returns one of the values a template
// can hold (string, []string, bool, int, a Record or []Record).
type Func struct {
	Params []Type
	Call   func(args []any) (any, error)
}

// accepts reports whether v may be passed to a parameter of type t.
func (t Type) accepts(v any) bool {
	switch t {
	case String:
		_, ok := v.(string)
		return ok
	case Strings:
		_, ok := v.([]string)
		return ok
	}
	return true
}

// truth is whether a value counts as true in if, with, and, or and not:
// non-empty strings and lists, non-zero numbers, true, and any Record.
func truth(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int:
		return x != 0
	case uint8:
		return x != 0
	case float64:
		return x != 0
	case complex128:
		return x != 0
	case []string:
		return len(x) > 0
	case []Record:
		return len(x) > 0
	}
	return true // a Record
}

// number is the value of a numeric constant where nothing says its type:
// the syntax decides, as in Go. A number that is no int, float or complex
// (too large, or unsigned only) is an error.
func number(n *parse.NumberNode) (any, error) {
	hex := len(n.Text) > 2 && n.Text[0] == '0' && strings.ContainsAny(n.Text[1:2], "xX") && !strings.ContainsAny(n.Text, "pP")
	char := strings.HasPrefix(n.Text, "'")
	switch {
	case n.IsComplex:
		return n.Complex128, nil
	case n.IsFloat && !hex && !char && strings.ContainsAny(n.Text, ".eEpP"):
		return n.Float64, nil
	case n.IsInt:
		if int64(int(n.Int64)) != n.Int64 {
			return nil, fmt.Errorf("%s overflows int", n.Text)
		}
		return int(n.Int64), nil
	case n.IsUint:
		return nil, fmt.Errorf("%s overflows int", n.Text)
	}
	return nil, fmt.Errorf("%s is not a number a template can use: write it as an integer or with a decimal point", n.Text)
}
