package template

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"text/template"

	"github.com/tether-edge/tether/agent/template/internal/eval"
	"github.com/tether-edge/tether/protocol"
)

// The oracle: what internal/eval accepts must render as text/template
// renders it, with the agent's own functions (the same Go functions,
// called by text/template through reflection).

// oracleLookup has instances with and without tags, an unhealthy one, and
// a service with none.
func oracleLookup() fakeLookup {
	l := apiLookup()
	l.sets["web"] = protocol.ServiceSet{V: 1, Name: "web"}
	l.sets["db"] = protocol.ServiceSet{V: 1, Name: "db", Instances: []protocol.ServiceInstance{
		{ID: "d1", Address: "10.0.1.1", Port: 5432, Healthy: true},
	}}
	l.env["N"] = "3"
	l.env["CSV"] = "a,b,c"
	return l
}

// stdFuncs are the functions of r for text/template.
func stdFuncs(r *renderer) template.FuncMap {
	return template.FuncMap{
		"service": r.service, "nomadService": r.service, "env": r.env,
		"toJSON": toJSON, "toJSONPretty": toJSONPretty,
		"join": join, "split": split, "contains": contains, "replaceAll": replaceAll,
		"toLower": strings.ToLower, "toUpper": strings.ToUpper, "trimSpace": strings.TrimSpace,
	}
}

// capWriter fails a write that would pass max bytes, like limitWriter.
type capWriter struct {
	bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.max {
		return 0, errors.New("output too large")
	}
	return w.Buffer.Write(p)
}

// outcome is one execution: its output and error (nil: none).
type outcome struct {
	out string
	err error
}

// both parses text with eval (refused: its error) and, if accepted,
// executes it with eval and with text/template. skip is whether eval ran
// out of steps (text/template, which has no bound, is then not run).
func both(t testing.TB, text string, maxSteps int) (refused error, ours, std outcome, skip bool) {
	r := &renderer{lookup: oracleLookup(), used: map[string]bool{}}
	x, err := eval.Parse("t", text, "", "", eval.Options{Funcs: r.funcs(), Fields: instanceFields, MaxSteps: maxSteps})
	if err != nil {
		return err, ours, std, false
	}
	st, err := template.New("t").Option("missingkey=error").Funcs(stdFuncs(r)).Parse(text)
	if err != nil {
		t.Fatalf("eval accepted %q, text/template refused it: %v", text, err)
	}
	w := &capWriter{max: 64 << 10}
	ours.err = x.Execute(w)
	ours.out = w.String()
	if errors.Is(ours.err, eval.ErrTooLong) {
		return nil, ours, std, true
	}
	w = &capWriter{max: 64 << 10}
	std.err = st.Execute(w, nil)
	std.out = w.String()
	return nil, ours, std, false
}

// agree fails t unless both executions wrote the same and both failed or
// both succeeded.
func agree(t testing.TB, text string, ours, std outcome) {
	t.Helper()
	if ours.out != std.out || (ours.err == nil) != (std.err == nil) {
		t.Fatalf("%q:\neval:          %q, %v\ntext/template: %q, %v", text, ours.out, ours.err, std.out, std.err)
	}
}

func TestFuncsMatchStd(t *testing.T) {
	r := &renderer{}
	var ours, std []string
	for n := range r.funcs() {
		ours = append(ours, n)
	}
	for n := range stdFuncs(r) {
		std = append(std, n)
	}
	sort.Strings(ours)
	sort.Strings(std)
	if fmt.Sprint(ours) != fmt.Sprint(std) {
		t.Fatalf("eval functions %v, text/template functions %v", ours, std)
	}
}

// TestSameAsTextTemplate: a table of templates eval must accept and render
// as text/template does (same output, an error when it errs).
func TestSameAsTextTemplate(t *testing.T) {
	texts := []string{
		`plain text`,
		`{{range service "api"}}{{.Address}}:{{.Port}} {{end}}`,
		`{{range $i, $s := service "api"}}{{$i}}={{$s.Name}}{{if $s.Tags}}[{{join "+" $s.Tags}}]{{end}};{{end}}`,
		`{{range service "db"}}{{.Tags}}|{{toJSON .Tags}}|{{len .Tags}}|{{eq .Tags .Tags}}{{end}}`,
		`{{with service "web"}}some{{else}}none{{end}} {{with service "nope"}}x{{else with service "api"}}{{len .}}{{end}}`,
		`{{range service "web"}}x{{else}}empty{{end}}`,
		`{{env "N"}} {{env "MISSING"}}|{{printf "%05d %q %v" 42 "q" 1.5}}|{{print 1 2 "a" true}}|{{println "l" 2}}`,
		`{{len (service "api")}} {{index (service "api") 1}} {{(index (service "api") 0).Address}}`,
		`{{printf "%T %T %T %T" (service "api") (index (service "api") 0) (index "ab" 1) 'x'}}`,
		`{{slice "abcdef" 1 3}} {{index (split "," "a,b,c") 2}} {{len "héllo"}} {{slice (split "," (env "CSV")) 1}}`,
		`{{if and (eq 1 1) (ne "a" "b") (lt 1 2) (le 2 2) (gt 3 2) (ge 3 3)}}cmp{{end}} {{or 0 "" "x"}} {{not true}} {{and 1 0 2}}`,
		`{{eq "a" "b" "a"}} {{eq (index "a" 0) 97}} {{lt (index "a" 0) 98}} {{gt -1 (index "a" 0)}} {{html "<a&b>'\""}} {{js "it's <x>"}} {{urlquery "a b&c"}}`,
		`{{$n := 0}}{{range service "api"}}{{$n = .Port}}{{end}}{{$n}}`,
		`{{range $i, $e := service "api"}}{{if eq $i 1}}{{break}}{{end}}{{$e.Port}}{{end}}`,
		`{{range $i := 5}}{{if eq $i 1}}{{continue}}{{end}}{{$i}}{{end}} {{range 0}}x{{else}}zero{{end}} {{range -3}}x{{end}}`,
		`{{range 3}}{{.}}{{range 0}}{{else}}{{continue}}{{end}}x{{end}} {{range 3}}{{range 2}}{{if eq . 1}}{{break}}{{end}}{{.}}{{end}}{{end}}`,
		`{{range (index "a" 0)}}{{end}}{{range $x := (index "c" 0)}}{{if lt $x 97}}{{continue}}{{end}}{{printf "%c%T" $x $x}}{{end}}`,
		`{{- " trimmed " -}}  {{/* comment */}} {{1.5}} {{1e3}} {{0x10}} {{'a'}} {{2i}} {{-7}}`,
		`{{ "A,b" | split "," | toJSON }} {{ "x" | toUpper | printf "%s!" }}`,
		`{{range service "api"}}{{ .Tags | join "," }}{{ if .Tags | contains "v2" }}!{{end}} {{end}}`,
		`{{ toJSONPretty (index (service "api") 0) }}`,
		`{{with $x := service "api"}}{{len $x}}{{end}}{{with $y := 0}}{{else}}{{$y}}{{end}}`,
		`{{range $x = service "api"}}{{end}}`,
		`{{$x := 1}}{{range $x = service "api"}}{{end}}{{$x.ID}}{{range $x = service "web"}}{{end}}{{len $x}}`,
		`{{$a := "x"}}{{if true}}{{$a = "y"}}{{$b := "z"}}{{$b}}{{end}}{{$a}}`,
		`{{slice (service "api") 1 2 2}} {{slice (split "," "a,b,c") 0 3 3}} {{slice "abc"}} {{index (service "db")}}`,
		`{{print}}{{println}}{{len print}}{{html}}|{{urlquery 1 "a"}}|{{js 1.5}}`,
		`{{range service "api"}}{{with .Tags}}{{index . 0}}{{end}}{{end}}`,
		`{{if eq (len (service "api")) 2}}two{{else if eq 1 1}}one{{end}}`,
		`{{not (service "web")}} {{and (service "web") 1}} {{or (service "web") (service "db")}}`,
		// Errors, the same on both sides.
		`{{index (service "api") 5}}`,
		`{{index "abc" 3}}`,
		`{{index 3 1}}`,
		`{{index (service "api") 1.5}}`,
		`{{slice "abc" 2 1}}`,
		`{{slice "abc" 0 1 2}}`,
		`{{len 3}}`,
		`{{range 1.5}}{{end}}`,
		`{{range "abc"}}{{end}}`,
		`{{range $i, $e := 3}}{{end}}`,
		`{{printf "%d" "notanint"}}`,
		`{{lt true false}}`,
		`{{lt 1 "a"}}`,
		`{{eq 1 "a"}}`,
		`{{eq (service "api") (service "api")}}`,
		`{{eq (index (service "api") 0) (index (service "api") 0)}}`,
		`{{lt 1i 2i}}`,
		`{{service "a/b"}}`,
		`{{range service "api"}}{{.Address.Port}}{{end}}`,
		`{{len "ab" | toUpper}}`,
		`{{3 | toUpper}}`,
		`{{"a" | join ","}}`,
		`{{toJSON 2i}}`,
		`{{range service "api"}}{{.Tags | join "," | contains "v1"}}{{end}}`,
	}
	rendered := 0
	for _, text := range texts {
		refused, ours, std, _ := both(t, text, 0)
		if refused != nil {
			t.Errorf("%q refused: %v", text, refused)
			continue
		}
		agree(t, text, ours, std)
		if std.err == nil && std.out != "" {
			rendered++
		}
	}
	if rendered < 28 {
		t.Errorf("only %d templates rendered without error: the table tests little", rendered)
	}
}

// TestRefusedAtParse: what the evaluator does not support fails Parse
// with the line and what to do, not a render.
func TestRefusedAtParse(t *testing.T) {
	tests := []struct{ text, want string }{
		{"a\n{{template \"x\"}}", `t:2:11: {{template "x"}} (or {{block}}) is not supported`},
		{"{{define \"x\"}}y{{end}}", `{{define "x"}} is not supported`},
		{"{{define \"t\"}}y{{end}}", `{{define "t"}} is not supported`},
		{"{{block \"b\" 1}}[{{.}}]{{end}}", `{{template "b"}} (or {{block}}) is not supported`},
		{"{{range service \"api\"}}\n{{.Hello}}{{end}}", "t:2:2: unknown field .Hello (a service instance has .Address,"},
		{"{{range service \"api\"}}{{.Address 1}}{{end}}", ".Address is a field, not a function"},
		{"{{range service \"api\"}}{{1 | .Address}}{{end}}", ".Address is a field, not a function"},
		{"{{$x := 1}}{{2 | $x}}", "$x is not a function"},
		{"{{(print 1) 2}}", "is not a function"},
		{"{{key \"x\"}}", `function "key" not defined`},
		{"{{call .}}", `function "call" not defined`},
		{"{{.}}", "the template's data (.) is always empty"},
		{"{{.Address}}", "the template's data (.) is always empty"},
		{"{{with 1}}{{else}}{{.}}{{end}}", "the template's data (.) is always empty"},
		{"{{$}}", "$ is the template's data"},
		{"{{$.X}}", "$ is the template's data"},
		{"{{$ = 1}}", "$ is the template's data"},
		{"{{range 2}}{{range 0}}{{else}}{{if true}}{{break}}{{end}}{{end}}{{end}}", "{{break}} in the {{else}} of a {{range}} is not supported"},
		{"{{nil}}", "nil is not supported"},
		{"{{toJSON nil}}", "nil is not supported"},
		{"{{join}}", "join takes 2 arguments, not 0"},
		{"{{\"a\" | service \"b\"}}", "service takes 1 argument, not 2"},
		{"{{eq 1}}", "eq takes at least 2, not 1"},
		{"{{lt 1 2 3}}", "lt takes 2 arguments, not 3"},
		{"{{toJSON service}}", "service takes 1 argument, not 0"},
		{"{{env 3}}", "argument 1 of env must be a string, not 3"},
		{"{{join \",\" \"a\"}}", `argument 2 of join must be a list of strings, not "a"`},
		{"{{printf 1}}", "argument 1 of printf must be a string, not 1"},
		{"{{18446744073709551615}}", "overflows int"},
		{"{{1e400}}", ""},
		{"{{print 100000000000000000000}}", "integer overflow"},
	}
	for _, tc := range tests {
		refused, _, _, _ := both(t, tc.text, 0)
		if refused == nil || !strings.Contains(refused.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.text, refused, tc.want)
		}
	}
	// Through the package's Parse: ErrInvalid, with the destination.
	_, err := Parse(protocol.Template{Data: "\n{{ template \"x\" }}", Destination: "local/a.conf"}, testPaths(t))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "local/a.conf:2") {
		t.Fatalf("Parse: %v", err)
	}
}

// gen writes random templates from the subset's grammar, scoping variables
// and dot as the parser does, so that most of them parse and run.
type gen struct {
	r       *rand.Rand
	vars    []string
	dot     bool // dot is a value (inside range or with)
	loops   int  // enclosing ranges
	depth   int
	counter int
}

func (g *gen) pick(s ...string) string { return s[g.r.Intn(len(s))] }

func (g *gen) list(n int) string {
	var b strings.Builder
	mark := len(g.vars)
	for i := 0; i < n; i++ {
		b.WriteString(g.item())
	}
	g.vars = g.vars[:mark]
	return b.String()
}

func (g *gen) item() string {
	g.depth++
	defer func() { g.depth-- }()
	k := g.r.Intn(12)
	if g.depth > 3 && k >= 7 {
		k = g.r.Intn(7)
	}
	switch k {
	case 0, 1:
		return g.pick("a", " ", "\n", "x,", "<&>", "")
	case 2, 3, 4:
		return "{{" + g.pipeline() + "}}"
	case 5:
		g.counter++
		v := fmt.Sprintf("$v%d", g.counter)
		s := "{{" + v + " := " + g.pipeline() + "}}"
		g.vars = append(g.vars, v)
		return s
	case 6:
		if len(g.vars) > 0 {
			return "{{" + g.pick(g.vars...) + " = " + g.pipeline() + "}}"
		}
		if g.loops > 0 {
			return g.pick("{{break}}", "{{continue}}", "{{if true}}{{continue}}{{end}}")
		}
		return "{{/* c */}}"
	case 7, 8:
		kw := g.pick("if", "with")
		head := g.pipeline()
		mark := len(g.vars)
		if g.r.Intn(3) == 0 {
			g.counter++
			v := fmt.Sprintf("$w%d", g.counter)
			head = v + " := " + head
			g.vars = append(g.vars, v)
		}
		saved := g.dot
		if kw == "with" {
			g.dot = true
		}
		body := g.list(1 + g.r.Intn(3))
		g.dot = saved
		s := "{{" + kw + " " + head + "}}" + body
		switch g.r.Intn(3) {
		case 0:
			s += "{{else}}" + g.list(1+g.r.Intn(2))
		case 1:
			s += "{{else " + kw + " " + g.pipeline() + "}}" + g.list(1)
		}
		g.vars = g.vars[:mark]
		return s + "{{end}}"
	default:
		head := g.pick(`service "api"`, `service "web"`, `service "db"`, `split "," (env "CSV")`, `3`, `(index "b" 0)`, `(len (service "api"))`, `.Tags`, `.`, `$v1`)
		if (strings.Contains(head, ".") && !strings.Contains(head, `"`) && !g.dot) || (head == "$v1" && !g.has("$v1")) {
			head = `service "api"`
		}
		mark := len(g.vars)
		switch g.r.Intn(3) {
		case 0:
			g.counter++
			v := fmt.Sprintf("$e%d", g.counter)
			head = v + " := " + head
			g.vars = append(g.vars, v)
		case 1:
			g.counter++
			i, v := fmt.Sprintf("$i%d", g.counter), fmt.Sprintf("$e%d", g.counter)
			head = i + ", " + v + " := " + head
			g.vars = append(g.vars, i, v)
		}
		saved := g.dot
		g.dot = true
		g.loops++
		body := g.list(1 + g.r.Intn(3))
		g.loops--
		g.dot = saved
		s := "{{range " + head + "}}" + body
		if g.r.Intn(2) == 0 {
			s += "{{else}}" + g.list(1)
		}
		g.vars = g.vars[:mark]
		return s + "{{end}}"
	}
}

func (g *gen) has(v string) bool {
	for _, x := range g.vars {
		if x == v {
			return true
		}
	}
	return false
}

func (g *gen) pipeline() string {
	s := g.operand(0)
	for i := g.r.Intn(3); i > 0; i-- {
		s += " | " + g.pick("print", "printf \"%v|\"", "len", "not", "toJSON", "toUpper", "join \",\"", "split \",\"", "print", "printf \"%T\"",
			"contains \"v1\"", "and 1", "or 0", "eq 1", "index (service \"api\")", "slice \"abc\" 1", "html", "urlquery", "println")
	}
	return s
}

func (g *gen) operand(depth int) string {
	k := g.r.Intn(10)
	if depth > 2 {
		k = g.r.Intn(4)
	}
	switch k {
	case 0:
		return g.pick(`1`, `0`, `-2`, `3`, `1.5`, `'a'`, `0x10`, `1e2`, `2i`, `true`, `false`, `"a,b"`, `""`, `"api"`, `"%d"`, `"<x>"`)
	case 1:
		if g.dot {
			return g.pick(".", ".Address", ".Port", ".Tags", ".Name", ".ID", ".Namespace", ".Datacenter")
		}
		return `"x"`
	case 2:
		if len(g.vars) > 0 {
			v := g.pick(g.vars...)
			if g.r.Intn(4) == 0 {
				v += g.pick(".Address", ".Port", ".Tags")
			}
			return v
		}
		return `2`
	case 3:
		return g.pick(`(service "api")`, `(service "prod.api")`, `(service "web")`, `(service "api@dc2")`, `(env "N")`, `(env "CSV")`)
	}
	a := func() string { return g.operand(depth + 1) }
	switch g.r.Intn(14) {
	case 0:
		return "(len " + a() + ")"
	case 1:
		return "(index " + a() + " " + g.pick("0", "1", "2", "-1", a()) + ")"
	case 2:
		return "(slice " + a() + " " + g.pick("0", "1", "1 2", "0 1 1", a()) + ")"
	case 3:
		return "(" + g.pick("eq", "ne", "lt", "le", "gt", "ge") + " " + a() + " " + a() + ")"
	case 4:
		return "(" + g.pick("and", "or") + " " + a() + " " + a() + ")"
	case 5:
		return "(not " + a() + ")"
	case 6:
		return "(" + g.pick("print", "println", "html", "js", "urlquery") + " " + a() + " " + a() + ")"
	case 7:
		return "(printf " + g.pick(`"%v"`, `"%d-%s"`, `"%T"`, `"%q %v"`, `"%5.1f"`) + " " + a() + " " + a() + ")"
	case 8:
		return "(join \",\" " + g.strings(depth+1) + ")"
	case 9:
		return "(split \",\" " + g.str(depth+1) + ")"
	case 10:
		return "(toJSON " + a() + ")"
	case 11:
		return "(contains \"v1\" " + g.strings(depth+1) + ")"
	case 12:
		return "(" + g.pick("toUpper", "trimSpace", "toLower") + " " + g.str(depth+1) + ")"
	}
	return "(" + a() + ")" + g.pick(".Address", ".Port", ".Tags", "")
}

// str is an operand that is mostly a string.
func (g *gen) str(depth int) string {
	switch g.r.Intn(6) {
	case 0:
		return g.pick(`"a,b"`, `""`, `" x "`, `"v1"`)
	case 1:
		if g.dot {
			return g.pick(".Address", ".Name", ".ID")
		}
	case 2:
		return g.pick(`(env "CSV")`, `(env "N")`, `(printf "%d" 3)`, `(print 1 "a")`)
	case 3:
		return g.pick(`(index (service "api") 0).Address`, `(index (split "," "a,b") 1)`)
	}
	return g.operand(depth)
}

// strings is an operand that is mostly a list of strings.
func (g *gen) strings(depth int) string {
	switch g.r.Intn(4) {
	case 0:
		if g.dot {
			return ".Tags"
		}
	case 1:
		return "(split \",\" " + g.str(depth+1) + ")"
	case 2:
		return g.pick(`(index (service "api") 0).Tags`, `(index (service "db") 0).Tags`, `(slice (split "," "a,b,c") 1)`)
	}
	return g.operand(depth)
}

// corpus is n generated templates from seed.
func corpus(seed int64, n int) []string {
	g := &gen{r: rand.New(rand.NewSource(seed))}
	out := make([]string, n)
	for i := range out {
		g.vars, g.dot, g.loops, g.depth = nil, false, 0, 0
		out[i] = g.list(1 + g.r.Intn(4))
	}
	return out
}

// TestGeneratedCorpus runs generated templates through both executors:
// each is refused by eval's Parse, or renders the same on both sides.
func TestGeneratedCorpus(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	var accepted, rendered, failed int
	for _, text := range corpus(1, n) {
		refused, ours, std, skip := both(t, text, 200_000)
		if refused != nil || skip {
			continue
		}
		accepted++
		agree(t, text, ours, std)
		if std.err == nil {
			rendered++
		} else {
			failed++
		}
	}
	t.Logf("%d generated: %d accepted, %d rendered, %d failed on both sides", n, accepted, rendered, failed)
	// The generator keeps to the subset: if most were refused, or none
	// rendered, the comparison would prove little.
	if accepted < n*3/4 || rendered < n/5 || failed < n/10 {
		t.Fatalf("%d generated: %d accepted, %d rendered, %d failed: the corpus tests little", n, accepted, rendered, failed)
	}
}

// FuzzSameAsTextTemplate: for any text, eval refuses it at Parse, or both
// executors write the same and fail alike.
func FuzzSameAsTextTemplate(f *testing.F) {
	for _, text := range corpus(2, 200) {
		f.Add(text)
	}
	f.Add(`{{range $i, $e := service "api"}}{{if eq $i 1}}{{break}}{{end}}{{$e.Port}}{{end}}`)
	f.Add(`{{printf "%T %v" (slice (service "api") 0 1) (index "ab" 1)}}`)
	f.Add(`{{range 2}}{{.}}{{range 0}}{{else}}{{continue}}{{end}}x{{end}}`)
	f.Fuzz(func(t *testing.T, text string) {
		refused, ours, std, skip := both(t, text, 100_000)
		if refused != nil || skip {
			return
		}
		agree(t, text, ours, std)
	})
}

// TestStepBudget: a render that would run for hours ends with ErrTooLong,
// with the line, after the step budget.
func TestStepBudget(t *testing.T) {
	r := &renderer{lookup: oracleLookup(), used: map[string]bool{}}
	x, err := eval.Parse("t", "ok\n{{range 2000000000}}{{range 2000000000}}{{end}}{{end}}", "", "",
		eval.Options{Funcs: r.funcs(), Fields: instanceFields, MaxSteps: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	err = x.Execute(&b)
	if !errors.Is(err, eval.ErrTooLong) || !strings.Contains(err.Error(), "t:2:") || b.String() != "ok\n" {
		t.Fatalf("got %q, %v; want ErrTooLong at line 2", b.String(), err)
	}
}

// TestTextBudget: templates that would make gigabytes of text fail the
// render instead of exhausting the agent's memory.
func TestTextBudget(t *testing.T) {
	mb := `(printf "%01000000d" 1)`
	tests := []struct{ name, text, want string }{
		{"one printf repeating a long argument", `{{$s := ` + mb + `}}{{printf "` + strings.Repeat("%[1]s", 40) + `" $s}}`, "bytes of text made"},
		{"a width applied to every element", `{{$l := split "" (printf "%0100000d" 0)}}{{printf "%1000v" $l}}`, "bytes of text made"},
		{"many calls in a loop", `{{range 100000}}{{$x := print ` + mb + `}}{{end}}`, "bytes of text made"},
		{"split into millions", `{{split "" (print ` + mb + ` ` + mb + `)}}`, "2000002 parts"},
		{"replaceAll that multiplies", `{{replaceAll "" "` + strings.Repeat("x", 20) + `" ` + mb + `}}`, "replaceAll: the result would be more than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := Parse(protocol.Template{Data: "\n" + tc.text, Destination: "local/x"}, testPaths(t))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = tm.Render(apiLookup())
			if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "local/x:2:") {
				t.Fatalf("got %v, want a render error at line 2 with %q", err, tc.want)
			}
		})
	}
}
