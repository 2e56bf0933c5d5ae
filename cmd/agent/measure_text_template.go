//go:build measure_text_template

// This file is built only with -tags measure_text_template, to measure what
// executing templates with text/template would cost the agent (the figure
// in bench/README.md): text/template's executor looks names up with
// reflect.Value.MethodByName, and a binary that can call it keeps every
// exported method of every type that may sit in an interface. The release
// agent never contains it.

package main

import (
	"io"
	"text/template"
)

func init() {
	t := template.Must(template.New("measure").Parse(`{{.}}`))
	if err := t.Execute(io.Discard, nil); err != nil {
		panic("BUG: " + err.Error())
	}
}
