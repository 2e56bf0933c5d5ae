package jobspec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalidJob matches (with errors.Is) every error Parse, ParseFile and
// Validate return because of what the job file says.
var ErrInvalidJob = errors.New("invalid job file")

// Error is one problem in a job file.
type Error struct {
	File    string // file name given to Parse; "" for a job validated from JSON
	Line    int    // 1-based; 0 if unknown
	Column  int    // 1-based; 0 if unknown
	Path    string // where in the job, e.g. `group "web" task "api"`, when there is no file position
	Summary string // what is wrong, naming the thing
	Fix     string // how to fix it; may be ""
}

// Error renders "web.hcl:12: unknown driver "dockr" (known: exec, podman, wasm)"
// followed by "; <fix>" when there is one.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	}
	if e.Path != "" && e.Line == 0 {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Summary)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidJob) true.
func (e *Error) Is(target error) bool { return target == ErrInvalidJob }

// Errors is several problems, reported together, one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidJob) true.
func (es Errors) Is(target error) bool { return target == ErrInvalidJob }

// Unwrap exposes the individual errors to errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted orders errors by file position (positionless ones last), keeping
// discovery order for ties.
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if (a.Line == 0) != (b.Line == 0) {
			return a.Line != 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return es
}

// err returns es as an error, or nil when there is none. It never returns a
// typed nil.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	if len(es) == 1 {
		return es[0]
	}
	return es
}
