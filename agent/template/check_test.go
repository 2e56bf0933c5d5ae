package template

import (
	"errors"
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

var checkCases = []struct {
	name, text, left, right string
	line                    int
	want                    string // "" : accepted
}{
	{"services and env", "{{ range service \"api\" }}{{ .Address }}:{{ .Port }}\n{{ end }}{{ env \"NOMAD_PORT_http\" }}", "", "", 0, ""},
	{"node attribute", `{{ env "attr.unique.network.ip-address" }}`, "", "", 0, ""},
	{"custom delimiters", "a\n[[ env \"X\" ]]", "[[", "]]", 0, ""},
	{"nomadVar", "x\ny\n{{ with nomadVar \"nomad/jobs/web\" }}{{ .pass }}{{ end }}", "", "", 3, `function "nomadVar" not defined; Tether has no variables store`},
	{"nomadServices", "{{ range nomadServices }}{{ end }}", "", "", 1, `list one service's instances with nomadService "name"`},
	{"key", "\n{{ key \"app/config\" }}", "", "", 2, `Tether has no key/value store`},
	{"secret", "{{ with secret \"kv/db\" }}{{ end }}", "", "", 1, `Tether has no Vault integration`},
	{"sockaddr", `{{ sockaddr "GetPrivateIP" }}`, "", "", 1, `env "attr.unique.network.ip-address"`},
	{"unknown function", "\n\n{{ base64Decode \"eA==\" }}", "", "", 3, `function "base64Decode" not defined; the functions templates have: and, contains, env,`},
	{"define", "{{ define \"x\" }}a{{ end }}", "", "", 1, `{{define "x"}} is not supported`},
	{"method call", "{{ range service \"a\" }}{{ .Address.Foo }}{{ end }}", "", "", 1, `unknown field .Foo`},
	{"syntax", "a\n{{ if }}", "", "", 2, `missing value for if`},
	{"bad service query", "x\n{{ service \"web.\" }}", "", "", 2, `service name`},
	{"wrong delimiters", "{{ nomadVar \"x\" }}", "[[", "]]", 0, ""}, // plain text with [[ ]]
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.text, tc.left, tc.right)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var te *TextError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v (%T), want a *TextError", err, err)
			}
			if te.Line != tc.line || !strings.Contains(te.Error(), tc.want) {
				t.Fatalf("err = %q (line %d), want line %d and %q", te.Error(), te.Line, tc.line, tc.want)
			}
		})
	}
}

// TestCheckMatchesParse: central's Check and the agent's Parse accept and
// refuse the same texts, and the agent's error carries the same fix.
func TestCheckMatchesParse(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := Parse(protocol.Template{Data: tc.text, Destination: "local/out", LeftDelim: tc.left, RightDelim: tc.right},
				Paths{TaskDir: dir + "/task", AllocDir: dir + "/alloc"})
			cerr := Check(tc.text, tc.left, tc.right)
			if (perr == nil) != (cerr == nil) {
				t.Fatalf("agent: %v\ncentral: %v", perr, cerr)
			}
			if cerr != nil {
				var te *TextError
				errors.As(cerr, &te)
				if !errors.Is(perr, ErrInvalid) || !strings.Contains(perr.Error(), te.Msg) || !strings.Contains(perr.Error(), te.Fix) {
					t.Fatalf("agent: %v\ncentral: %v", perr, cerr)
				}
			}
		})
	}
}
