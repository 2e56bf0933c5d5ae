package agent

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// A desired state whose dispatch payload file leads out of local/, or
// whose payload is over the 16 KiB limit, is refused before anything is
// written.
func TestCheckAllocDispatchPayload(t *testing.T) {
	for _, tc := range []struct {
		file    string
		payload int
		want    string
	}{
		{"input.json", 10, ""},
		{"in/put.json", protocol.MaxDispatchPayload, ""},
		{"../secrets/x", 1, "outside the task's local/ directory"},
		{"/etc/passwd", 1, "outside the task's local/ directory"},
		{"a/../../x", 1, "outside the task's local/ directory"},
		{".", 1, "outside the task's local/ directory"},
		{"input.json", protocol.MaxDispatchPayload + 1, "over the limit"},
	} {
		a := protocol.DesiredAlloc{ID: "a1", DesiredStatus: "run", Payload: make([]byte, tc.payload),
			Tasks: []protocol.Task{{Name: "work", DispatchFile: tc.file}}}
		err := checkAlloc(&a)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("file %q, %d bytes: got %v, want %q", tc.file, tc.payload, err, tc.want)
		}
	}
}

// FuzzDispatchFile: whatever file name a desired state carries, one the
// agent accepts lands below the task's local/ directory.
func FuzzDispatchFile(f *testing.F) {
	for _, s := range []string{"input.json", "a/b/c", "../x", "/etc/passwd", "a/../../b", ".", "a\\..\\b", "a/./b/", "..", "local/../../x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		a := protocol.DesiredAlloc{ID: "a1", DesiredStatus: "run", Payload: []byte("p"),
			Tasks: []protocol.Task{{Name: "work", DispatchFile: file}}}
		if file == "" || checkAlloc(&a) != nil {
			return
		}
		local := filepath.Join("/data/allocs/a1/work", "local")
		p := filepath.Join(local, file)
		if !strings.HasPrefix(p, local+string(filepath.Separator)) {
			t.Fatalf("accepted %q, which lands at %s", file, p)
		}
	})
}
