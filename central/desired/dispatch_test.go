package desired

import (
	"bytes"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// A dispatched child's payload reaches the allocations whose group has a
// task with dispatch_payload, with the file; a group without one gets no
// payload (it would only use up the node's budget).
func TestDesiredCarriesDispatchPayload(t *testing.T) {
	j := testJob()
	j.Payload = []byte(`{"n": 1}`)
	j.ParentID = "batch"
	j.TaskGroups[0].Tasks[0].DispatchPayload = &jobspec.DispatchPayload{File: "input.json"}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	da := Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]
	if !bytes.Equal(da.Payload, j.Payload) || da.Tasks[0].DispatchFile != "input.json" {
		t.Fatalf("payload %q file %q", da.Payload, da.Tasks[0].DispatchFile)
	}
	if da.ParentID != "batch" {
		t.Fatalf("parent ID %q, want the parent's (NOMAD_JOB_PARENT_ID)", da.ParentID)
	}
	// The largest payload fits one allocation's budget.
	j.Payload = make([]byte, jobspec.DispatchPayloadSizeLimit)
	if err := CheckJob(j); err != nil {
		t.Fatalf("a 16 KiB payload: %v", err)
	}
	if jobspec.DispatchPayloadSizeLimit != protocol.MaxDispatchPayload {
		t.Fatal("central and agents disagree on the payload limit")
	}
	j.TaskGroups[0].Tasks[0].DispatchPayload = nil
	da = Build("n1", "dc1", []*structs.Allocation{a}, 1, 0).Allocs[0]
	if da.Payload != nil || da.Tasks[0].DispatchFile != "" {
		t.Fatalf("a group without dispatch_payload got payload %d bytes, file %q", len(da.Payload), da.Tasks[0].DispatchFile)
	}
}
