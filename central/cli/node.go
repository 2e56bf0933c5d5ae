package cli

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/structs"
)

func (e *env) nodeStatus(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	stats := fs.Bool("stats", false, "show the node's CPU, memory, disk, temperature and load from its latest heartbeat (with -json: GET /v1/client/stats)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 1) {
		return exitUsage
	}
	if *stats && fs.NArg() == 0 {
		fmt.Fprintln(e.stderr, "-stats shows one node: central node status -stats NODE")
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if fs.NArg() == 0 {
		var nodes []*structs.Node
		b, _, err := e.get(ctx, "/v1/nodes", nil, &nodes)
		if err != nil {
			return e.fail("querying nodes", err)
		}
		if e.json {
			return e.printJSON(b)
		}
		if len(nodes) == 0 {
			fmt.Fprintln(e.stdout, "No nodes registered")
			return exitOK
		}
		rows := [][]string{{"ID", "DC", "Name", "Drivers", "Version", "Status"}}
		for _, n := range nodes {
			rows = append(rows, []string{e.short(n.ID), n.Datacenter, n.Name, strings.Join(n.Drivers, ","), agentVersion(n), n.Status})
		}
		table(e.stdout, rows)
		return exitOK
	}
	var n structs.Node
	b, _, err := e.get(ctx, "/v1/node/"+url.PathEscape(fs.Arg(0)), nil, &n)
	if err != nil {
		return e.fail("querying node", err)
	}
	if e.json && *stats {
		return e.nodeStats(ctx, n.ID) // stats.go
	}
	if e.json {
		return e.printJSON(b)
	}
	var allocs []*structs.Allocation
	if _, _, err := e.get(ctx, "/v1/node/"+url.PathEscape(n.ID)+"/allocations", nil, &allocs); err != nil {
		return e.fail("querying node allocations", err)
	}
	eligibility := "eligible"
	if !n.Eligible {
		eligibility = "ineligible"
	}
	status := n.Status
	if n.StatusDescription != "" {
		status += " (" + n.StatusDescription + ")"
	}
	kv(e.stdout, [][2]string{
		{"ID", e.short(n.ID)},
		{"Name", n.Name},
		{"Datacenter", n.Datacenter},
		{"Status", status},
		{"Drain", strconv.FormatBool(n.Drain)},
		{"Eligibility", eligibility},
		{"Drivers", strings.Join(n.Drivers, ",")},
		{"Version", agentVersion(&n)},
		{"Resources", fmt.Sprintf("cpu %d MHz, memory %d MB", n.Resources.CPU, n.Resources.MemoryMB)},
		{"Reserved", reservedText(n.Reserved)}, // stats.go
		{"Status Updated", e.ago(n.StatusUpdatedAt)},
	})
	if *stats {
		if code := e.nodeStats(ctx, n.ID); code != exitOK { // stats.go
			return code
		}
	}
	if f := n.UpgradeFailed; f != nil { // agentota.go
		fmt.Fprintf(e.stdout, "\nUpgrade to %s failed: %s\n", f.Version, upgradeFailure(f))
	}
	fmt.Fprintln(e.stdout, "\nAttributes")
	var pairs [][2]string
	for _, k := range sortedKeys(n.Attributes) {
		pairs = append(pairs, [2]string{k, n.Attributes[k]})
	}
	kv(e.stdout, pairs)
	if len(n.Meta) > 0 {
		fmt.Fprintln(e.stdout, "\nMeta")
		pairs = nil
		for _, k := range sortedKeys(n.Meta) {
			pairs = append(pairs, [2]string{k, n.Meta[k]})
		}
		kv(e.stdout, pairs)
	}
	fmt.Fprintln(e.stdout, "\nAllocations")
	if len(allocs) == 0 {
		fmt.Fprintln(e.stdout, "No allocations placed")
		return exitOK
	}
	sortAllocs(allocs)
	rows := [][]string{{"ID", "Job ID", "Task Group", "Version", "Desired", "Status", "Created"}}
	for _, a := range allocs {
		rows = append(rows, []string{e.short(a.ID), a.JobID, a.TaskGroup, strconv.FormatUint(a.JobVersion, 10), a.DesiredStatus, a.ClientStatus, e.ago(a.CreateTime)})
	}
	table(e.stdout, rows)
	return exitOK
}
