package desired

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/protocol"
)

func TestBudgetsBelowAgentLimits(t *testing.T) {
	if MaxAllocsPerNode >= protocol.MaxArrayElements {
		t.Errorf("MaxAllocsPerNode %d must stay below the agent's %d array elements", MaxAllocsPerNode, protocol.MaxArrayElements)
	}
	if MaxNodeBytes+Reserve > protocol.MaxMessageSize || MaxAllocBytes > MaxNodeBytes {
		t.Errorf("budgets %d + %d over the %d-byte message, or per alloc %d over per node", MaxNodeBytes, Reserve, protocol.MaxMessageSize, MaxAllocBytes)
	}
}

// TestAllocBoundCoversRealAllocs checks that AllocBound + DatacenterBytes
// is never below the real encoded size of an allocation's entry, for
// every kind of port and a range of names, indexes and datacenters.
func TestAllocBoundCoversRealAllocs(t *testing.T) {
	j := testJob()
	tg := j.TaskGroups[0]
	tg.Networks = []*jobspec.Network{{Ports: []*jobspec.Port{{Label: "http"}, {Label: "db", Static: 5432}, {Label: "x", To: -1}, {Label: "y", To: 8080}}}}
	j.Namespace = "default"
	bound, err := AllocBound(j, tg)
	if err != nil {
		t.Fatal(err)
	}
	for _, dc := range []string{"", "dc1", strings.Repeat("d", 30), strings.Repeat("d", 300)} {
		for _, idx := range []int{0, 9, 23, 24, 255, 65536, 1 << 30} {
			a := &structs.Allocation{
				ID: structs.GenerateID(), Namespace: "default", JobID: j.ID, JobVersion: 1 << 40, Job: j, TaskGroup: tg.Name,
				Name: fmt.Sprintf("%s.%s[%d]", j.ID, tg.Name, idx), Index: idx, DesiredStatus: protocol.DesiredRun,
				DeploymentID: structs.GenerateID(), // a service job's allocations roll out (Nomad's default update)
				Ports:        []structs.AllocPort{{Label: "http", Value: 31999}, {Label: "db", Value: 5432}, {Label: "x", Value: 65535, To: 65535}, {Label: "y", Value: 20000, To: 8080}},
			}
			b, err := protocol.Encode(Alloc(a, tg, dc))
			if err != nil {
				t.Fatal(err)
			}
			if got, max := len(b), bound+DatacenterBytes(dc); got > max {
				t.Errorf("dc %q index %d: entry is %d bytes, bound says at most %d", dc, idx, got, max)
			}
			if slack := bound + DatacenterBytes(dc) - len(b); slack > 64 {
				t.Errorf("dc %q index %d: bound %d is %d bytes over the real size: too loose", dc, idx, bound+DatacenterBytes(dc), slack)
			}
		}
	}
}

func TestCheckJob(t *testing.T) {
	big := strings.Repeat("x", 1200*1000) // the 1.2 MB env var of the attack
	cases := []struct {
		name   string
		change func(j *jobspec.Job)
		want   []string // substrings of the error; nil: accepted
	}{
		{"small", func(*jobspec.Job) {}, nil},
		{"env just fits", func(j *jobspec.Job) {
			j.TaskGroups[0].Tasks[0].Env = map[string]string{"BLOB": strings.Repeat("x", MaxAllocBytes-1024)}
		}, nil},
		{"1.2 MB env var", func(j *jobspec.Job) {
			j.TaskGroups[0].Tasks[0].Env = map[string]string{"BLOB": big}
		}, []string{`group "g"`, "limit " + strconv.Itoa(MaxAllocBytes) + " bytes per allocation", "1200"}},
		{"big template", func(j *jobspec.Job) {
			j.TaskGroups[0].Tasks[0].Templates = []*jobspec.Template{{Data: big[:300000], Destination: "local/x"}}
		}, []string{"limit 262144 bytes per allocation"}},
		{"groups together over a node", func(j *jobspec.Job) {
			for k := range 5 {
				g := *j.TaskGroups[0]
				g.Name = fmt.Sprintf("g%d", k)
				t := *g.Tasks[0]
				t.Env = map[string]string{"BLOB": big[:MaxAllocBytes-4096]}
				g.Tasks = []*jobspec.Task{&t}
				j.TaskGroups = append(j.TaskGroups, &g)
			}
		}, []string{"groups together", fmt.Sprintf("limit %d per node", MaxNodeBytes)}},
		{"too many env vars for the agent's decoder", func(j *jobspec.Job) {
			env := map[string]string{}
			for k := range protocol.MaxMapPairs + 1 {
				env["V"+strconv.Itoa(k)] = "1"
			}
			j.TaskGroups[0].Tasks[0].Env = env
		}, []string{"agents would refuse", "4096 map entries"}},
		{"driver config nested too deep", func(j *jobspec.Job) {
			var v any = "x"
			for range protocol.MaxNestedLevels {
				v = map[string]any{"k": v}
			}
			j.TaskGroups[0].Tasks[0].Config["deep"] = v
		}, []string{"agents would refuse", "levels of nesting"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := testJob()
			c.change(j)
			err := CheckJob(j)
			if c.want == nil {
				if err != nil {
					t.Fatalf("CheckJob = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrJobTooLarge) {
				t.Fatalf("CheckJob = %v, want ErrJobTooLarge", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
