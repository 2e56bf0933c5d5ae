package desired

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// Kept lists the node's allocations central holds but does not list
// (finished, stopped), sorted; past MaxKeptAllocs it says Partial, and a
// desired state with the most allocations and a full Kept still fits in
// the room Reserve keeps.
func TestAddKept(t *testing.T) {
	j := testJob()
	run := &structs.Allocation{ID: "r", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	done := &structs.Allocation{ID: "d", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "complete", Job: j}
	stopped := &structs.Allocation{ID: "c", JobID: j.ID, TaskGroup: "g", DesiredStatus: "stop", ClientStatus: "running", Job: j}
	allocs := []*structs.Allocation{run, done, stopped}
	d := Build("n1", "dc1", allocs, 1, 0)
	AddKept(d, allocs)
	if d.Kept == nil || d.Kept.Partial || !slices.Equal(d.Kept.IDs, []string{"c", "d"}) {
		t.Fatalf("kept %+v, want c and d", d.Kept)
	}
	// Without AddKept (an agent that did not say it understands Kept)
	// the field is not sent at all.
	if b, err := protocol.Encode(Build("n1", "dc1", allocs, 1, 0)); err != nil || decodeKept(t, b) != nil {
		t.Fatalf("Kept sent without AddKept (err %v)", err)
	}

	var many []*structs.Allocation
	for i := range protocol.MaxKeptAllocs + 1 {
		many = append(many, &structs.Allocation{ID: fmt.Sprintf("%08x-0000-0000-0000-000000000000", i), JobID: j.ID, TaskGroup: "g",
			DesiredStatus: "run", ClientStatus: "complete", Job: j})
	}
	d = Build("n1", "dc1", many, 1, 0)
	AddKept(d, many)
	if !d.Kept.Partial || len(d.Kept.IDs) != 0 {
		t.Fatalf("over the bound: partial %v with %d ids", d.Kept.Partial, len(d.Kept.IDs))
	}
	d = Build("n1", "dc1", many[:protocol.MaxKeptAllocs], 1, 0)
	AddKept(d, many[:protocol.MaxKeptAllocs])
	d.Allocs = nil
	b, err := protocol.Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > Reserve-4<<10 { // 4 KiB left for four signatures, the topic, the packet header
		t.Fatalf("a desired state with a full Kept encodes to %d bytes: Reserve (%d) has no room left", len(b), Reserve)
	}
	var back protocol.Desired
	if err := protocol.Decode(b, &back); err != nil || back.Kept == nil || len(back.Kept.IDs) != protocol.MaxKeptAllocs {
		t.Fatalf("decode: %v %+v", err, back.Kept)
	}
}

func decodeKept(t *testing.T, b []byte) *protocol.KeptAllocs {
	t.Helper()
	var d protocol.Desired
	if err := protocol.Decode(b, &d); err != nil {
		t.Fatal(err)
	}
	return d.Kept
}
