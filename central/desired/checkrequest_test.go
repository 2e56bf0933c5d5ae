package desired

import (
	"reflect"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

// An http check's method, headers and body travel to the agent, through
// the wire encoding.
func TestDesiredCarriesCheckRequest(t *testing.T) {
	j := testJob()
	hdr := map[string][]string{"Host": {"api.internal"}, "X-Probe": {"a", "b"}}
	j.TaskGroups[0].Tasks[0].Services = []*jobspec.Service{{Name: "web", Checks: []*jobspec.Check{
		{Type: "http", Path: "/rpc", Interval: time.Second, Timeout: time.Second, Method: "POST", Header: hdr, Body: `{"ping":1}`},
	}}}
	a := &structs.Allocation{ID: "a1", JobID: j.ID, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running", Job: j}
	b, err := protocol.Encode(Build("n1", "dc1", []*structs.Allocation{a}, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Desired
	if err := protocol.Decode(b, &d); err != nil {
		t.Fatal(err)
	}
	c := d.Allocs[0].Tasks[0].Services[0].Checks[0]
	if c.Method != "POST" || c.Body != `{"ping":1}` || !reflect.DeepEqual(c.Header, hdr) {
		t.Errorf("check on the wire = %+v", c)
	}
}
