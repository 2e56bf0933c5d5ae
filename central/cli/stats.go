package cli

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
)

// nodeStats prints a node's latest heartbeat's device metrics (node status
// -stats), or with -json what GET /v1/client/stats?node_id= returns.
func (e *env) nodeStats(ctx context.Context, nodeID string) int {
	var s api.ClientStats
	b, _, err := e.get(ctx, "/v1/client/stats", url.Values{"node_id": {nodeID}}, &s)
	if isNotFound(err) && !e.json {
		// The node exists (it was looked up first): the leader has not
		// heard its heartbeat yet (a node just registered, a new leader).
		fmt.Fprintf(e.stdout, "\nHost Resource Utilization: none yet (%v)\n", err)
		return exitOK
	}
	if err != nil {
		return e.fail("querying node stats", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	fmt.Fprintf(e.stdout, "\nHost Resource Utilization (latest heartbeat, %s)\n", e.ago(s.Time*1e6))
	kv(e.stdout, hostStatsPairs(s.NodeStatsSample))
	return exitOK
}

// hostStatsPairs are a sample's lines; a figure the agent does not send
// (an agent older than device metrics) is "-".
func hostStatsPairs(s api.NodeStatsSample) [][2]string {
	mem := "-"
	if s.MemoryUsedBytes > 0 {
		mem = iec(s.MemoryUsedBytes)
		if s.MemoryTotalBytes > 0 {
			mem += " / " + iec(s.MemoryTotalBytes) + " (" + pct(float64(s.MemoryUsedBytes)/float64(s.MemoryTotalBytes)*100) + ")"
		}
	}
	disk := "-"
	if total := s.DiskUsedBytes + s.DiskAvailBytes; total > 0 {
		disk = iec(s.DiskUsedBytes) + " used, " + iec(s.DiskAvailBytes) + " available (" + pct(float64(s.DiskUsedBytes)/float64(total)*100) + ")"
	}
	temp := "-"
	if s.TemperatureC != nil {
		temp = strconv.FormatFloat(*s.TemperatureC, 'f', 1, 64) + " °C"
	}
	cpu, load := "-", "-"
	if s.MemoryUsedBytes > 0 { // the agent sends CPU and load with memory
		cpu, load = pct(s.CPUPercent), strconv.FormatFloat(s.Load1, 'f', 2, 64)
	}
	return [][2]string{{"CPU", cpu}, {"Memory", mem}, {"Disk (data dir)", disk}, {"Temperature", temp}, {"Load (1 min)", load}}
}

// reservedText is a node's reserved block for node status.
func reservedText(r *structs.Reserved) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("cpu %d MHz, memory %d MB", r.CPU, r.MemoryMB)
}

// allocStats prints an allocation's tasks' usage as its agent measured it
// (alloc status -stats), or with -json what GET
// /v1/client/allocation/<id>/stats returns.
func (e *env) allocStats(ctx context.Context, allocID string) int {
	var s api.AllocStats
	b, _, err := e.get(ctx, "/v1/client/allocation/"+url.PathEscape(allocID)+"/stats", nil, &s)
	if err != nil {
		return e.fail("querying allocation stats", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	fmt.Fprintln(e.stdout, "\nResource Utilization (measured by the agent over 0.5 s; CPU in % of one core)")
	rows := [][]string{{"Task", "CPU", "CPU Time", "Memory"}}
	for _, name := range sortedKeys(s.Tasks) {
		t := s.Tasks[name]
		if t.Unavailable != "" {
			rows = append(rows, []string{name, "-", "-", "- (" + t.Unavailable + ")"})
			continue
		}
		cpu, cpuTime, mem := "- (not measured by its driver)", "-", "-"
		if t.CPUPercent != nil {
			cpu = pct(*t.CPUPercent)
		}
		if t.CPUTotalSeconds != nil {
			cpuTime = strconv.FormatFloat(*t.CPUTotalSeconds, 'f', 1, 64) + " s"
		}
		if t.MemoryUsedBytes != nil {
			mem = iec(*t.MemoryUsedBytes)
		}
		rows = append(rows, []string{name, cpu, cpuTime, mem})
	}
	rows = append(rows, []string{"(total)", pct(s.CPUPercent), "", iec(s.MemoryUsedBytes)})
	table(e.stdout, rows)
	return exitOK
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }

// iec formats bytes with binary units: 512 B, 1.5 KiB, 300.0 MiB.
func iec(b uint64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatUint(b, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(b)/float64(div), 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}
