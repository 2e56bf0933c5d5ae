package agent

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

func TestCheckAlloc(t *testing.T) {
	ok := func() protocol.DesiredAlloc {
		return protocol.DesiredAlloc{ID: "a1", DesiredStatus: "run", Tasks: []protocol.Task{{Name: "web"}, {Name: "db"}}}
	}
	tests := []struct {
		name string
		mod  func(*protocol.DesiredAlloc)
		want string
	}{
		{"ok", func(*protocol.DesiredAlloc) {}, ""},
		{"dotdot id", func(a *protocol.DesiredAlloc) { a.ID = ".." }, "cannot be a directory name"},
		{"slash id", func(a *protocol.DesiredAlloc) { a.ID = "../x" }, "cannot be a directory name"},
		{"empty id", func(a *protocol.DesiredAlloc) { a.ID = "" }, "cannot be a directory name"},
		{"backslash task", func(a *protocol.DesiredAlloc) { a.Tasks[0].Name = `a\b` }, "task name"},
		{"alloc task", func(a *protocol.DesiredAlloc) { a.Tasks[0].Name = "alloc" }, "task name"},
		{"dup task", func(a *protocol.DesiredAlloc) { a.Tasks[1].Name = "web" }, "appears twice"},
		{"status", func(a *protocol.DesiredAlloc) { a.DesiredStatus = "evict" }, "desired status"},
		{"hooks", func(a *protocol.DesiredAlloc) { a.Tasks[0].Lifecycle = "prestart" }, ""},
		{"unknown hook", func(a *protocol.DesiredAlloc) { a.Tasks[0].Lifecycle = "preboot" }, "upgrade the agent"},
		{"no main task", func(a *protocol.DesiredAlloc) { a.Tasks[0].Lifecycle, a.Tasks[1].Lifecycle = "prestart", "poststart" }, "at least one main task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := ok()
			tt.mod(&a)
			err := checkAlloc(&a)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzDesired feeds arbitrary payloads through the agent's path for a
// Desired message off the network: decode, then the checks that guard the
// data dir. Neither may panic, and an accepted alloc's directory names stay
// inside the allocs dir.
func FuzzDesired(f *testing.F) {
	good, _ := protocol.Encode(desired("n1", 3, serviceAlloc("a1", map[string]any{"args": []any{"${NOMAD_ALLOC_ID}"}})))
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d protocol.Desired
		if protocol.Decode(data, &d) != nil {
			return
		}
		for i := range d.Allocs {
			if checkAlloc(&d.Allocs[i]) == nil {
				if strings.Contains(d.Allocs[i].ID, "/") || d.Allocs[i].ID == ".." {
					t.Fatalf("unsafe id accepted: %q", d.Allocs[i].ID)
				}
			}
		}
	})
}
