package template

import (
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// FuzzParseRender parses and renders a user's template text: it must never
// panic, whatever the text.
func FuzzParseRender(f *testing.F) {
	f.Add(apiTmpl, "{{", "}}")
	f.Add(`{{ range service "prod.api@dc1" }}{{ .Tags | join "," }}{{ end }}{{ env "attr.cpu.arch" }}`, "", "")
	f.Add(`[[ service "api" | toJSON ]]`, "[[", "]]")
	f.Add(`{{ define "x" }}{{ service "a/b" }}{{ end }}{{ template "x" }}`, "", "")
	f.Fuzz(func(t *testing.T, text, left, right string) {
		p := Paths{TaskDir: t.TempDir()}
		tm, err := Parse(protocol.Template{Data: text, Destination: "local/x", LeftDelim: left, RightDelim: right}, p)
		if err != nil {
			return
		}
		_, _, _ = tm.Render(apiLookup())
	})
}

// FuzzParseEnv reads the output of an env = true template.
func FuzzParseEnv(f *testing.F) {
	f.Add("A=1\nexport B=\"x\\ny\"\n# c\nC='d'\n")
	f.Add("nonsense")
	f.Fuzz(func(t *testing.T, in string) {
		env, err := ParseEnv("local/env", []byte(in))
		if err != nil {
			return
		}
		for k := range env {
			if !validKey(k) {
				t.Fatalf("accepted key %q", k)
			}
		}
	})
}
