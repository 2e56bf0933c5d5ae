// Package texec executes templates parsed by the standard library's
// text/template. It is Go 1.26's text/template exec.go and funcs.go (and
// internal/fmtsort), copied under Go's BSD license (LICENSE), with one
// change: a field name in a template ({{.X}}) is not looked up as a method
// of the value first, only as a struct field or map key.
//
// Why: text/template looks methods up by a name known only at run time
// (reflect.Value.MethodByName). A binary that can do that makes the Go
// linker keep every exported method of every type that may be stored in
// an interface, and their function tables: 1.6 MB of the agent's 13 MB.
// The agent's templates only ever see values without methods (nil dot,
// strings, []string, []ServiceInstance, numbers, booleans), so for them
// nothing changes; parsing, syntax, builtins (printf, index, eq, ...),
// error messages and output stay text/template's.
//
//	t, err := template.New(name).Delims(l, r).Option("missingkey=error").Funcs(fm).Parse(text)
//	x := texec.New(t, fm, true)
//	err = x.Execute(w, data)
//
// exec_equiv_test.go runs the same templates through text/template and
// this package and compares output and errors.
package texec
