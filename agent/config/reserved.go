package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Reserved is the reserved block (Nomad client's): what the node keeps for
// the host and the agent, subtracted by central's scheduler from what the
// node offers. CPU in MHz, memory in MB; 0: nothing reserved.
type Reserved struct {
	CPU      int
	MemoryMB int
}

// reservedKeys are the keys of the reserved block.
var reservedKeys = []string{"cpu", "memory"}

// maxReserved bounds each amount (10 TB of memory, 10 THz of CPU):
// far above any node, low enough that sums stay exact.
const maxReserved = 1 << 20 * 10

// setReserved applies a reserved { ... } block.
func setReserved(cfg *Config, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var dst *int
		switch k {
		case "cpu":
			dst = &cfg.Reserved.CPU
		case "memory":
			dst = &cfg.Reserved.MemoryMB
		case "disk":
			return fmt.Errorf("reserved { disk } is not supported: central's scheduler does not place by disk (jobs cannot ask for ephemeral_disk); remove the line, and bound the data dir with gc_disk_usage_threshold")
		case "reserved_ports":
			return fmt.Errorf("reserved { reserved_ports } is not supported: the scheduler gives each task a port the node's running allocations do not hold; keep host services off the dynamic port range instead, and remove the line")
		case "cores":
			return fmt.Errorf("reserved { cores } is not supported: reserve CPU in MHz instead, e.g. reserved { cpu = 500 }")
		default:
			return fmt.Errorf("unknown key %q in the reserved block (known: %s)", k, strings.Join(reservedKeys, ", "))
		}
		n, err := strconv.Atoi(strings.ReplaceAll(m[k], "_", ""))
		if err != nil {
			return fmt.Errorf("reserved { %s = %q }: want a whole number (%s), e.g. reserved { %s = %s }", k, m[k], reservedUnit(k), k, reservedExample(k))
		}
		*dst = n
	}
	return nil
}

func reservedUnit(k string) string {
	if k == "cpu" {
		return "MHz"
	}
	return "MB"
}

func reservedExample(k string) string {
	if k == "cpu" {
		return "500"
	}
	return "256"
}

// validate checks the amounts; errors name the key and the fix.
func (r Reserved) validate() error {
	for _, x := range []struct {
		key string
		n   int
	}{{"cpu", r.CPU}, {"memory", r.MemoryMB}} {
		if x.n < 0 || x.n > maxReserved {
			return fmt.Errorf("%w: reserved { %s = %d } out of range: use 0 to %d %s, e.g. reserved { %s = %s } (or -reserved-%s)", ErrInvalid, x.key, x.n, maxReserved, reservedUnit(x.key), x.key, reservedExample(x.key), x.key)
		}
	}
	return nil
}
