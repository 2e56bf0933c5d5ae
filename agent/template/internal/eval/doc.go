// Package eval runs the agent's templates: Go template syntax, parsed by
// the standard library's text/template/parse, evaluated by this package
// over the few kinds of value an agent template can see.
//
// A template's data is always empty; what it reads comes from functions,
// which return strings, string lists, booleans, numbers, Records (service
// instances) and lists of Records. No map, method or function value ever
// reaches a template, so the evaluator needs no reflection: values are
// switched on by type, and a Record answers for its own fields.
//
//	t, err := eval.Parse(name, text, left, right, eval.Options{Funcs: fm, Fields: names})
//	err = t.Execute(w)
//
// Parse refuses, with the file and line, everything outside that subset:
// {{template}}, {{define}}, {{block}}, method calls, arguments given to
// fields or variables, unknown fields, nil, and the template data ($ and a
// top-level dot). What it accepts renders as text/template would render it;
// exec_equiv_test.go in agent/template checks that against text/template
// over a table and a fuzzed corpus.
package eval
