package texec

import (
	"reflect"
	"text/template"
	"text/template/parse"
)

// missingKeyAction defines how to respond to indexing a map with a key
// that is not present (text/template's option "missingkey=...").
type missingKeyAction int

const (
	mapInvalid   missingKeyAction = iota // Return an invalid reflect.Value.
	mapZeroValue                         // Return the zero value for the map element.
	mapError                             // Error out
)

type option struct {
	missingKey missingKeyAction
}

// common holds what the templates of one set share. It is built once by
// New and only read afterwards, so executions may run in parallel.
type common struct {
	tmpl      map[string]*Template
	execFuncs map[string]reflect.Value
	option    option
}

// Template is one executable template of a set: a parse tree from
// text/template and the set's functions and other templates.
type Template struct {
	name string
	*parse.Tree
	*common
}

// New makes an executable set from a template parsed by text/template
// (its Delims, Funcs and Parse already applied, so parse errors and syntax
// are text/template's own) and returns the template named like t. funcs are
// the functions given to Funcs; missingKeyError is Option("missingkey=error")
// (otherwise "missingkey=default").
func New(t *template.Template, funcs map[string]any, missingKeyError bool) *Template {
	c := &common{tmpl: map[string]*Template{}, execFuncs: map[string]reflect.Value{}}
	if missingKeyError {
		c.option.missingKey = mapError
	}
	addValueFuncs(c.execFuncs, funcs)
	for _, tt := range t.Templates() {
		c.tmpl[tt.Name()] = &Template{name: tt.Name(), Tree: tt.Tree, common: c}
	}
	if x := c.tmpl[t.Name()]; x != nil {
		return x
	}
	return &Template{name: t.Name(), Tree: t.Tree, common: c}
}

// Name returns the name of the template.
func (t *Template) Name() string { return t.name }

// Lookup returns the template with the given name in t's set, or nil.
func (t *Template) Lookup(name string) *Template {
	if t.common == nil {
		return nil
	}
	return t.tmpl[name]
}
