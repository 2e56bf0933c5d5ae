package template

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template/parse"

	"github.com/tether-edge/tether/agent/template/internal/eval"
	"github.com/tether-edge/tether/protocol"
)

// Change modes.
const (
	ChangeRestart = "restart"
	ChangeSignal  = "signal"
	ChangeNoop    = "noop"
)

// Limits.
const (
	MaxSourceSize = 1 << 20 // bytes of a source file
	MaxOutputSize = 4 << 20 // bytes of one rendered template
	DefaultPerms  = 0o644
	DefaultSignal = "SIGHUP"
)

var (
	// ErrInvalid wraps every error in a template block itself (bad
	// delimiters, destination, perms, change mode, template text).
	ErrInvalid = errors.New("invalid template")
	// ErrRender wraps errors executing a template.
	ErrRender = errors.New("template render failed")
)

// Template is one parsed template block of a task. It renders with one
// goroutine at a time.
type Template struct {
	Spec protocol.Template
	Dest string      // absolute, inside the task dir or the alloc's shared dir
	Perm os.FileMode // of the written file
	Name string      // the destination as written, to name it in errors

	x *eval.Template
	r *renderer
	// static are the service names found in the text: prefetched before
	// the first render.
	static []string
}

// Paths are the directories a template may read and write in.
type Paths struct {
	TaskDir  string // <alloc>/<task>
	AllocDir string // <alloc>/alloc, shared by the tasks
	// Interpolate resolves ${...} in destination and source (nil: none).
	Interpolate func(string) string
}

// Parse checks a template block and parses its text (Data, or the file
// Source in the task dir). Errors wrap ErrInvalid, name the template and
// carry the line, for syntax errors and for what the evaluator does not
// support ({{define}}, method calls, unknown functions and fields, ...).
func Parse(spec protocol.Template, p Paths) (*Template, error) {
	interp := p.Interpolate
	if interp == nil {
		interp = func(s string) string { return s }
	}
	name := spec.Destination
	if name == "" {
		return nil, fmt.Errorf("%w: a template needs a destination (e.g. destination = \"local/app.conf\")", ErrInvalid)
	}
	dest, err := within(interp(spec.Destination), p)
	if err != nil {
		return nil, fmt.Errorf("%w %q: destination %v", ErrInvalid, name, err)
	}
	perm := os.FileMode(DefaultPerms)
	if spec.Perms != "" {
		v, err := strconv.ParseUint(spec.Perms, 8, 32)
		if err != nil || v > 0o777 {
			return nil, fmt.Errorf("%w %q: perms %q is not an octal mode such as \"0644\"", ErrInvalid, name, spec.Perms)
		}
		perm = os.FileMode(v)
	}
	switch spec.ChangeMode {
	case "", ChangeRestart, ChangeSignal, ChangeNoop:
	default:
		return nil, fmt.Errorf("%w %q: change_mode %q (use restart, signal or noop)", ErrInvalid, name, spec.ChangeMode)
	}
	text := spec.Data
	if spec.Source != "" {
		src, err := within(interp(spec.Source), p)
		if err != nil {
			return nil, fmt.Errorf("%w %q: source %v", ErrInvalid, name, err)
		}
		b, err := readSource(src, p, MaxSourceSize) // write.go
		if err != nil {
			return nil, fmt.Errorf("%w %q: source: %v", ErrInvalid, name, err)
		}
		text = string(b)
	}
	x, r, err := parseText(name, text, spec.LeftDelim, spec.RightDelim) // check.go: what central checks at submit
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, explain(err))
	}
	tm := &Template{Spec: spec, Dest: dest, Perm: perm, Name: name, x: x, r: r}
	tm.static, err = scanNames(x.Tree())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return tm, nil
}

// Services are the service names the text names with a constant string.
func (t *Template) Services() []string { return append([]string(nil), t.static...) }

// Render executes the template against l. used is every service name it
// looked up (including ones computed at render time).
func (t *Template) Render(l Lookup) (out []byte, used []string, err error) {
	t.r.lookup = l
	t.r.used = map[string]bool{}
	defer func() { t.r.lookup = nil }()
	var buf bytes.Buffer
	err = t.x.Execute(&limitWriter{w: &buf, left: MaxOutputSize})
	for n := range t.r.used {
		used = append(used, n)
	}
	if err != nil {
		return nil, used, fmt.Errorf("%w: %v", ErrRender, err)
	}
	return buf.Bytes(), used, nil
}

type limitWriter struct {
	w    *bytes.Buffer
	left int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if len(p) > l.left {
		return 0, fmt.Errorf("output is larger than %d bytes", MaxOutputSize)
	}
	l.left -= len(p)
	return l.w.Write(p)
}

// within resolves a path relative to the task dir and checks it stays in
// the task dir or the alloc's shared dir.
func within(path string, p Paths) (string, error) {
	if path == "" {
		return "", errors.New("is empty")
	}
	abs := path
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(p.TaskDir, path)
	}
	abs = filepath.Clean(abs)
	for _, root := range []string{p.TaskDir, p.AllocDir} {
		if root == "" {
			continue
		}
		if rel, err := filepath.Rel(root, abs); err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return abs, nil
		}
	}
	return "", fmt.Errorf("%q is outside the task directory: use a path under local/, secrets/ or ../alloc/", path)
}

// scanNames walks the parse tree for service "..." / nomadService "..."
// with a constant argument and returns the service names, checked.
func scanNames(tree *parse.Tree) ([]string, error) {
	seen := map[string]bool{}
	var names []string
	var firstErr error
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch n := n.(type) {
		case nil:
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			if len(n.Args) >= 2 {
				if id, ok := n.Args[0].(*parse.IdentifierNode); ok && serviceFuncs[id.Ident] {
					if s, ok := n.Args[1].(*parse.StringNode); ok {
						q, err := parseQuery(s.Text)
						if err != nil && firstErr == nil {
							firstErr = fmt.Errorf("%s: %v", location(tree, n), err)
						}
						if err == nil && !seen[q.name] {
							seen[q.name] = true
							names = append(names, q.name)
						}
					}
				}
			}
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.RangeNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.WithNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.ChainNode:
			walk(n.Node)
		}
	}
	walk(tree.Root)
	return names, firstErr
}

func location(tree *parse.Tree, n parse.Node) string {
	loc, _ := tree.ErrorContext(n)
	return "template: " + loc
}
