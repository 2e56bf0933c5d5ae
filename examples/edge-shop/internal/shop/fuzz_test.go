package shop

import (
	"strings"
	"testing"
)

// EnvFileValue reads a file the agent rendered from service data: it never
// panics and returns a value without a line break.
func FuzzEnvFileValue(f *testing.F) {
	f.Add("PRODUCT_API_URI=\"http://127.0.0.1:1\"\n")
	f.Add("export PRODUCT_API_URI='x'\nPRODUCT_API_URI=\"\\n\"")
	f.Add("=\n==\n\"")
	f.Fuzz(func(t *testing.T, text string) {
		v := EnvFileValue(text, "PRODUCT_API_URI")
		if strings.ContainsAny(v, "\n") && !strings.Contains(text, `\n`) {
			t.Fatalf("value %q spans lines of %q", v, text)
		}
	})
}
