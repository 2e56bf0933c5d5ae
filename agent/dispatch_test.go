package agent

import (
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
