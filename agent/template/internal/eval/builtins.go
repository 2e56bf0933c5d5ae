package eval

import (
	"errors"
	"fmt"
	"net/url"
	"text/template"
)

// A builtin is one of the functions every template has. Its arguments are
// evaluated in order (and and or evaluate theirs lazily, in exec.go); min
// and max bound how many it takes (max -1: no bound); printf's first
// argument is a string.
type builtin struct {
	min, max int
	call     func(args []any) (any, error)
}

var builtins = map[string]builtin{
	"and":      {1, -1, nil},
	"or":       {1, -1, nil},
	"not":      {1, 1, func(a []any) (any, error) { return !truth(a[0]), nil }},
	"len":      {1, 1, length},
	"index":    {1, -1, func(a []any) (any, error) { return index(a[0], a[1:]) }},
	"slice":    {1, -1, func(a []any) (any, error) { return slice(a[0], a[1:]) }},
	"eq":       {2, -1, func(a []any) (any, error) { return equal(a[0], a[1:]) }},
	"ne":       {2, 2, func(a []any) (any, error) { b, err := equal(a[0], a[1:]); return !b, err }},
	"lt":       {2, 2, func(a []any) (any, error) { return less(a[0], a[1]) }},
	"le":       {2, 2, func(a []any) (any, error) { return lessOrEqual(a[0], a[1]) }},
	"gt":       {2, 2, func(a []any) (any, error) { b, err := lessOrEqual(a[0], a[1]); return !b && err == nil, err }},
	"ge":       {2, 2, func(a []any) (any, error) { b, err := less(a[0], a[1]); return !b && err == nil, err }},
	"print":    {0, -1, func(a []any) (any, error) { return fmt.Sprint(a...), nil }},
	"println":  {0, -1, func(a []any) (any, error) { return fmt.Sprintln(a...), nil }},
	"printf":   {1, -1, func(a []any) (any, error) { return fmt.Sprintf(a[0].(string), a[1:]...), nil }},
	"html":     {0, -1, func(a []any) (any, error) { return template.HTMLEscapeString(text(a)), nil }},
	"js":       {0, -1, func(a []any) (any, error) { return template.JSEscapeString(text(a)), nil }},
	"urlquery": {0, -1, func(a []any) (any, error) { return url.QueryEscape(text(a)), nil }},
}

// text is what html, js and urlquery escape: one string as it is,
// anything else as print would write it.
func text(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	return fmt.Sprint(args...)
}

func length(a []any) (any, error) {
	switch x := a[0].(type) {
	case string:
		return len(x), nil
	case []string:
		return len(x), nil
	case []Record:
		return len(x), nil
	}
	return nil, fmt.Errorf("len of type %T", a[0])
}

// position converts an index argument (int or byte) and checks it is in
// [0, limit].
func position(v any, limit int) (int, error) {
	var n int
	switch x := v.(type) {
	case int:
		n = x
	case uint8:
		n = int(x)
	case nil:
		return 0, errors.New("cannot index slice/array with nil")
	default:
		return 0, fmt.Errorf("cannot index slice/array with type %T", v)
	}
	if n < 0 || n > limit {
		return 0, fmt.Errorf("index out of range: %d", n)
	}
	return n, nil
}

// index is item[i][j]...: a string gives a byte, a list its element.
func index(item any, at []any) (any, error) {
	if item == nil {
		return nil, errors.New("index of untyped nil")
	}
	for _, a := range at {
		var n, size int
		switch x := item.(type) {
		case string:
			size = len(x)
		case []string:
			size = len(x)
		case []Record:
			size = len(x)
		case nil:
			return nil, errors.New("index of nil pointer")
		default:
			return nil, fmt.Errorf("can't index item of type %T", item)
		}
		n, err := position(a, size)
		if err != nil {
			return nil, err
		}
		if n == size {
			return nil, fmt.Errorf("index out of range: %d", n)
		}
		switch x := item.(type) {
		case string:
			item = x[n]
		case []string:
			item = x[n]
		case []Record:
			item = any(x[n])
		}
	}
	return item, nil
}

// slice is item[i:j:k] with the bounds Go allows (up to the capacity of a
// list; no third index for a string).
func slice(item any, at []any) (any, error) {
	if item == nil {
		return nil, errors.New("slice of untyped nil")
	}
	if len(at) > 3 {
		return nil, fmt.Errorf("too many slice indexes: %d", len(at))
	}
	var size, room int
	switch x := item.(type) {
	case string:
		if len(at) == 3 {
			return nil, errors.New("cannot 3-index slice a string")
		}
		size, room = len(x), len(x)
	case []string:
		size, room = len(x), cap(x)
	case []Record:
		size, room = len(x), cap(x)
	default:
		return nil, fmt.Errorf("can't slice item of type %T", item)
	}
	b := [3]int{0, size, 0}
	for i, a := range at {
		n, err := position(a, room)
		if err != nil {
			return nil, err
		}
		b[i] = n
	}
	if b[0] > b[1] {
		return nil, fmt.Errorf("invalid slice index: %d > %d", b[0], b[1])
	}
	if len(at) == 3 && b[1] > b[2] {
		return nil, fmt.Errorf("invalid slice index: %d > %d", b[1], b[2])
	}
	switch x := item.(type) {
	case string:
		return x[b[0]:b[1]], nil
	case []string:
		if len(at) == 3 {
			return x[b[0]:b[1]:b[2]], nil
		}
		return x[b[0]:b[1]], nil
	default:
		x2 := item.([]Record)
		if len(at) == 3 {
			return x2[b[0]:b[1]:b[2]], nil
		}
		return x2[b[0]:b[1]], nil
	}
}

// A class groups the values comparisons treat alike.
type class int

const (
	other class = iota // lists, Records: no order, equal only when both are nil
	boolean
	signed
	unsigned
	real
	cmplx
	str
)

func classOf(v any) class {
	switch v.(type) {
	case bool:
		return boolean
	case int:
		return signed
	case uint8:
		return unsigned
	case float64:
		return real
	case complex128:
		return cmplx
	case string:
		return str
	}
	return other
}

var errBadComparison = errors.New("invalid type for comparison")

// mixedInts compares a signed and an unsigned integer: cmp < 0, 0, > 0.
func mixedInts(a, b any) int {
	var s int
	var u uint8
	sign := 1
	if x, ok := a.(int); ok {
		s, u = x, b.(uint8)
	} else {
		s, u, sign = b.(int), a.(uint8), -1
	}
	switch {
	case s < int(u):
		return -sign
	case s > int(u):
		return sign
	}
	return 0
}

func isMixed(c1, c2 class) bool {
	return (c1 == signed && c2 == unsigned) || (c1 == unsigned && c2 == signed)
}

// equal is a == b || a == c || ...
func equal(a any, bs []any) (bool, error) {
	if len(bs) == 0 {
		return false, errors.New("missing argument for comparison")
	}
	c1 := classOf(a)
	for _, b := range bs {
		c2 := classOf(b)
		var same bool
		switch {
		case isMixed(c1, c2):
			same = mixedInts(a, b) == 0
		case c1 != c2:
			if a != nil && b != nil {
				return false, fmt.Errorf("incompatible types for comparison: %T and %T", a, b)
			}
		case c1 != other:
			same = a == b
		default:
			var err error
			if same, err = equalOther(a, b); err != nil {
				return false, err
			}
		}
		if same {
			return true, nil
		}
	}
	return false, nil
}

// equalOther compares lists and Records: a nil list equals only a nil list
// (of either kind); anything else cannot be compared.
func equalOther(a, b any) (bool, error) {
	list := func(v any) (isList, isNil bool) {
		switch x := v.(type) {
		case []string:
			return true, x == nil
		case []Record:
			return true, x == nil
		}
		return false, v == nil
	}
	la, na := list(a)
	lb, nb := list(b)
	if la != lb && a != nil && b != nil {
		return false, fmt.Errorf("non-comparable types %v: %T, %T: %v", a, a, b, b)
	}
	if na || nb {
		return na == nb, nil
	}
	return false, fmt.Errorf("non-comparable type %v: %T", b, b)
}

// less is a < b for numbers and strings.
func less(a, b any) (bool, error) {
	c1, c2 := classOf(a), classOf(b)
	if c1 == other || c2 == other {
		return false, errBadComparison
	}
	if isMixed(c1, c2) {
		return mixedInts(a, b) < 0, nil
	}
	if c1 != c2 {
		return false, fmt.Errorf("incompatible types for comparison: %T and %T", a, b)
	}
	switch x := a.(type) {
	case int:
		return x < b.(int), nil
	case uint8:
		return x < b.(uint8), nil
	case float64:
		return x < b.(float64), nil
	case string:
		return x < b.(string), nil
	}
	return false, errBadComparison // bool, complex
}

func lessOrEqual(a, b any) (bool, error) {
	lt, err := less(a, b)
	if lt || err != nil {
		return lt, err
	}
	return equal(a, []any{b})
}

// Builtins are the names of the functions every template has.
func Builtins() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	return names
}
