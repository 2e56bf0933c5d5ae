package jobspec

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic (the
// recover in ParseWithWarnings would turn a panic into an error, so the
// fuzzer also fails on that error), must return exactly one of a job or an
// error, and a job it returns must validate again after a JSON round trip.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`job "a" { group "g" { task "t" { driver = "exec" } } }`), "")
	f.Add([]byte("job \"a\" {\n group \"g\" {\n task \"t\" {\n driver = \"exec\"\n config { args = [\"${NOMAD_PORT_http}\", attr.cpu.arch] }\n }\n }\n}\n"), "")
	f.Add([]byte("variable \"n\" {\n type = number\n}\njob \"a\" {\n group \"g\" {\n count = var.n\n task \"t\" { driver = \"exec\" }\n }\n}\n"), "n=3")
	f.Fuzz(func(t *testing.T, src []byte, varArg string) {
		var vars map[string]string
		if varArg != "" {
			vars, _ = ParseVarArgs([]string{varArg})
		}
		j, _, err := ParseWithWarnings("fuzz.hcl", src, vars)
		if (j == nil) == (err == nil) {
			t.Fatalf("job %v and error %v: want exactly one", j, err)
		}
		if err != nil {
			var e *Error
			if errors.As(err, &e) && len(e.Summary) > 30 && e.Summary[:30] == "the HCL parser failed on this " {
				t.Fatalf("parser panicked: %v", err)
			}
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("error does not match ErrInvalidJob: %v", err)
			}
			return
		}
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back Job
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		back.Canonicalize()
		if err := back.Validate(); err != nil {
			t.Fatalf("parsed job fails validation after a JSON round trip: %v\n%s", err, b)
		}
	})
}
