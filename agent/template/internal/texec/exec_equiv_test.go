package texec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"text/template"
)

type instance struct {
	Name    string
	Address string
	Port    int
	Tags    []string
	next    int // unexported: an error to name it
}

// funcs are like the agent's: values without methods.
var funcs = template.FuncMap{
	"service": func(name string) []instance {
		if name == "none" {
			return nil
		}
		return []instance{
			{Name: name, Address: "10.0.0.1", Port: 80, Tags: []string{"a", "b"}},
			{Name: name, Address: "10.0.0.2", Port: 8080},
		}
	},
	"env":   func(k string) string { return map[string]string{"HOME": "/home/t", "N": "3"}[k] },
	"split": func(sep, s string) []string { return strings.Split(s, sep) },
	"fail":  func() (string, error) { return "", errors.New("boom") },
	"ports": func() map[string]int { return map[string]int{"http": 80, "admin": 9000, "grpc": 50051} },
	"add":   func(a, b int) int { return a + b },
	"join":  func(l []string) string { return strings.Join(l, "+") },
}

// TestSameAsTextTemplate runs each template through text/template and
// texec against the same data and asserts the same output and error text.
func TestSameAsTextTemplate(t *testing.T) {
	data := map[string]any{"x": 1, "s": "str", "inst": instance{Name: "web", Port: 1}, "nilptr": (*instance)(nil)}
	texts := []string{
		`plain text`,
		`{{range service "web"}}{{.Address}}:{{.Port}} {{end}}`,
		`{{range $i, $s := service "web"}}{{$i}}={{$s.Name}}{{if $s.Tags}}[{{join $s.Tags}}]{{end}};{{end}}`,
		`{{with service "none"}}some{{else}}none{{end}}`,
		`{{range service "none"}}x{{else}}empty{{end}}`,
		`{{range $k, $v := ports}}{{$k}}={{$v}},{{end}}`,
		`{{env "HOME"}} {{env "MISSING"}}|{{printf "%05d %q" 42 "q"}}|{{print 1 2 "a"}}|{{println "l"}}`,
		`{{len (service "web")}} {{index (service "web") 1}} {{(index (service "web") 0).Address}}`,
		`{{slice "abcdef" 1 3}} {{index (split "," "a,b,c") 2}} {{len "héllo"}}`,
		`{{if and (eq 1 1) (ne "a" "b") (lt 1 2) (le 2 2) (gt 3 2) (ge 3 3)}}cmp{{end}} {{or 0 "" "x"}} {{not true}}`,
		`{{eq "a" "b" "a"}} {{html "<a&b>"}} {{js "it's"}} {{urlquery "a b&c"}}`,
		`{{define "row"}}<{{.Address}}>{{end}}{{range service "web"}}{{template "row" .}}{{end}}`,
		`{{block "b" "dflt"}}[{{.}}]{{end}}`,
		`{{$n := 0}}{{range service "web"}}{{$n = add $n .Port}}{{end}}{{$n}}`,
		`{{range $i, $e := service "web"}}{{if eq $i 1}}{{break}}{{end}}{{$e.Port}}{{end}}`,
		`{{range $i := 3}}{{$i}}{{end}}`,
		`{{- " trimmed " -}}  {{/* comment */}} {{.x}} {{.s}} {{.inst.Port}}`,
		`{{nil}}`,
		`{{.missing}}`,
		`{{.inst.Nope}}`,
		`{{.inst.next}}`,
		`{{.nilptr.Port}}`,
		`{{fail}}`,
		`{{index (service "web") 5}}`,
		`{{template "nope"}}`,
		`{{range 1.5}}{{end}}`,
		`{{.x.y}}`,
		`{{call .s}}`,
		`{{printf "%d" "notanint"}}`,
		`{{len 3}}`,
	}
	rendered := 0
	for _, missingKeyError := range []bool{false, true} {
		for _, text := range texts {
			opt := "missingkey=default"
			if missingKeyError {
				opt = "missingkey=error"
			}
			std, err := template.New("t").Option(opt).Funcs(funcs).Parse(text)
			if err != nil {
				t.Fatalf("%s: parse: %v", text, err)
			}
			var want, got bytes.Buffer
			wantErr := std.Execute(&want, data)
			gotErr := New(std, funcs, missingKeyError).Execute(&got, data)
			if got.String() != want.String() {
				t.Errorf("%s (%s): output %q, text/template %q", text, opt, got.String(), want.String())
			}
			if wantErr == nil && want.Len() > 0 {
				rendered++
			}
			if errText(gotErr) != errText(wantErr) {
				t.Errorf("%s (%s): error %q, text/template %q", text, opt, errText(gotErr), errText(wantErr))
			}
		}
	}
	if rendered < 30 {
		t.Errorf("only %d templates rendered without error: the table tests little", rendered)
	}
}

// TestNoMethodCalls asserts the fork's one change: {{.Name}} is not a
// method call.
func TestNoMethodCalls(t *testing.T) {
	std := template.Must(template.New("t").Parse(`{{.Hello}}`))
	var b bytes.Buffer
	if err := std.Execute(&b, greeter{}); err != nil || b.String() != "hi" {
		t.Fatalf("text/template: %q, %v", b.String(), err)
	}
	err := New(std, nil, false).Execute(&b, greeter{})
	if err == nil || !strings.Contains(err.Error(), "can't evaluate field Hello in type texec.greeter") {
		t.Errorf("texec: %v; want can't evaluate field Hello", err)
	}
}

type greeter struct{}

func (greeter) Hello() string { return "hi" }

func TestEmptyTemplate(t *testing.T) {
	std, err := template.New("t").Parse(`{{define "x"}}y{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := New(template.New("other"), nil, false).Execute(&bytes.Buffer{}, nil); err == nil {
		t.Error("executing an unparsed template: no error")
	}
	var b bytes.Buffer
	if err := New(std, nil, false).Lookup("x").Execute(&b, nil); err != nil || b.String() != "y" {
		t.Errorf("Lookup(x): %q, %v; want \"y\", nil", b.String(), err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
