package jobspec

import (
	"reflect"
	"strings"
	"testing"
)

// TestFunctions evaluates each function a job file commonly uses, and the
// limits that stop a small file from building a huge string.
func TestFunctions(t *testing.T) {
	tests := []struct {
		expr    string
		want    any
		wantErr string
	}{
		{`upper("a")`, "A", ""},
		{`lower("A")`, "a", ""},
		{`format("%s-%03d", "x", 7)`, "x-007", ""},
		{`join("-", ["a", "b"])`, "a-b", ""},
		{`concat(["a"], ["b"])`, []any{"a", "b"}, ""},
		{`jsonencode({ a = [1, 2.5] })`, `{"a":[1,2.5]}`, ""},
		{`replace("a.b", ".", "/")`, "a/b", ""},
		{`trimspace(" a ")`, "a", ""},
		{`split(",", "a,b")`, []any{"a", "b"}, ""},
		{`merge({ a = 1 }, { b = 2 })`, map[string]any{"a": int64(1), "b": int64(2)}, ""},
		{`lookup({ a = "x" }, "b", "dflt")`, "dflt", ""},
		{`tonumber("2.5")`, 2.5, ""},
		{`format("%900000000s", "x")`, nil, "format width or precision above 4096"},
		{`formatlist("%.99999d", [1])`, nil, "format width or precision above 4096"},
		{`indent(100000, "a\nb")`, nil, "indent above 1024 spaces"},
		{`replace(format("%4096s", ""), " ", format("%4096s", "b"))`, nil, "result would be more than"},
		{`range(3)`, []any{int64(0), int64(1), int64(2)}, ""},
		{`range(2000)`, nil, "more than 1024 values"},
		{`file("/etc/passwd")`, nil, "submit with `central job submit`"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			j, err := Parse("f.hcl", configJob(tt.expr), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "f.hcl:5:") {
					t.Fatalf("err = %v, want f.hcl:5: ... %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := configValue(t, j); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
