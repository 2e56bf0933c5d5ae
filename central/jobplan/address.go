package jobplan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// maxSuggestions bounds the attributes or meta keys a warning lists.
const maxSuggestions = 5

// AddressWarnings reports the service addresses and ports of job that
// refer to a node attribute (${attr.X}) or node meta (${meta.X}) that the
// nodes the job may run on lack: the agent registers such an instance
// with the reference unresolved, and it never becomes healthy. The nodes
// looked at are the eligible ones: ready, eligible, not draining, in one
// of the job's datacenters. With none of them there is nothing to say
// (the plan's placement failures say why). The agent resolves ${node.*}
// and ${NOMAD_*} on every node, so only attr and meta are checked.
func AddressWarnings(job *jobspec.Job, nodes []*structs.Node) []string {
	type use struct{ where, field, value string }
	refs := map[string][]use{} // attr.X / meta.X → where it is used
	var order []string
	add := func(where string, s *jobspec.Service) {
		for _, f := range [][2]string{{"address", s.Address}, {"port", s.PortLabel}} {
			for _, ref := range references(f[1]) {
				if !strings.HasPrefix(ref, "attr.") && !strings.HasPrefix(ref, "meta.") {
					continue
				}
				if refs[ref] == nil {
					order = append(order, ref)
				}
				refs[ref] = append(refs[ref], use{where: fmt.Sprintf("%s service %q", where, s.Name), field: f[0], value: f[1]})
			}
		}
	}
	for _, tg := range job.TaskGroups {
		for _, s := range tg.Services {
			add(fmt.Sprintf("group %q", tg.Name), s)
		}
		for _, t := range tg.Tasks {
			for _, s := range t.Services {
				add(fmt.Sprintf("group %q task %q", tg.Name, t.Name), s)
			}
		}
	}
	if len(refs) == 0 {
		return nil
	}
	dcs := job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	var eligible []*structs.Node
	for _, n := range nodes {
		if n != nil && n.Status == structs.NodeReady && n.Eligible && !n.Drain && scheduler.DatacenterMatch(dcs, n.Datacenter) {
			eligible = append(eligible, n)
		}
	}
	if len(eligible) == 0 {
		return nil
	}
	var out []string
	for _, ref := range order {
		kind, key, _ := strings.Cut(ref, ".")
		have := 0
		for _, n := range eligible {
			m := n.Attributes
			if kind == "meta" {
				m = n.Meta
			}
			if _, ok := m[key]; ok {
				have++
			}
		}
		if have == len(eligible) {
			continue
		}
		u := refs[ref][0]
		what := "attribute"
		if kind == "meta" {
			what = "meta key"
		}
		var msg string
		if have == 0 {
			msg = fmt.Sprintf("%s: %s %q refers to node %s %q, which none of the %d eligible nodes has: the agent cannot resolve it and the service never becomes healthy",
				u.where, u.field, u.value, what, key, len(eligible))
		} else {
			msg = fmt.Sprintf("%s: %s %q refers to node %s %q, which only %d of the %d eligible nodes have: instances on the others cannot resolve it",
				u.where, u.field, u.value, what, key, have, len(eligible))
		}
		if len(refs[ref]) > 1 {
			msg += fmt.Sprintf(" (and %d more uses)", len(refs[ref])-1)
		}
		msg += "; " + suggestion(kind, u.field, eligible)
		out = append(out, msg)
	}
	return out
}

// suggestion says what the eligible nodes do have.
func suggestion(kind, field string, nodes []*structs.Node) string {
	seen := map[string]bool{}
	for _, n := range nodes {
		m := n.Attributes
		if kind == "meta" {
			m = n.Meta
		}
		for k := range m {
			if kind == "meta" || addressLike(k) {
				seen[k] = true
			}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, kind+"."+k)
	}
	sort.Strings(keys)
	if len(keys) > maxSuggestions {
		keys = append(keys[:maxSuggestions], "…")
	}
	switch {
	case len(keys) == 0 && kind == "meta":
		return "the eligible nodes set no meta: add it to the agents' meta, or write a literal value"
	case len(keys) == 0 && field == "address":
		return "leave address out to register the node's address (attr.unique.network.ip-address)"
	case len(keys) == 0:
		return "write the port's label"
	case field == "address" && kind == "attr":
		example := keys[0]
		if seen["unique.network.ip-address"] {
			example = "attr.unique.network.ip-address"
		}
		return fmt.Sprintf("they have %s: write one of those, e.g. address = \"${%s}\", or leave address out (the node's address is the default)", strings.Join(keys, ", "), example)
	}
	return fmt.Sprintf("they have %s", strings.Join(keys, ", "))
}

// addressLike reports whether a node attribute names an address.
func addressLike(k string) bool {
	return strings.Contains(k, "ip-address") || strings.Contains(k, "ipv4") || strings.Contains(k, "ipv6") ||
		strings.HasSuffix(k, "address") || strings.HasSuffix(k, ".ip")
}

// references returns the text inside each ${...} of s.
func references(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			return out
		}
		out = append(out, strings.TrimSpace(s[i+2:i+2+j]))
		s = s[i+3+j:]
	}
}
