package jobplan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tether-edge/tether/central/scheduler"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// maxSuggestions bounds the attributes or meta keys a warning lists.
const maxSuggestions = 5

// addrRef is one node reference in a service's address or port.
type addrRef struct {
	where, field, value string
	kind, key           string // "attr" or "meta", and the attribute or meta key
}

func (r addrRef) what() string {
	if r.kind == "meta" {
		return "meta key"
	}
	return "attribute"
}

// has reports whether node n can resolve r.
func (r addrRef) has(n *structs.Node) bool {
	m := n.Attributes
	if r.kind == "meta" {
		m = n.Meta
	}
	_, ok := m[r.key]
	return ok
}

// serviceRefs lists the ${attr.X} and ${meta.X} references in the
// addresses and ports of a group's services and its tasks' services. The
// agent resolves ${node.*} and ${NOMAD_*} on every node; ${env.X} depends
// on the agent's environment, which central does not see.
func serviceRefs(tg *jobspec.TaskGroup) []addrRef {
	var out []addrRef
	add := func(where string, s *jobspec.Service) {
		if s == nil {
			return
		}
		for _, f := range [][2]string{{"address", s.Address}, {"port", s.PortLabel}} {
			for _, ref := range references(f[1]) {
				kind, key, _ := strings.Cut(ref, ".")
				if (kind == "attr" || kind == "meta") && key != "" {
					out = append(out, addrRef{where: fmt.Sprintf("%s service %q", where, s.Name), field: f[0], value: f[1], kind: kind, key: key})
				}
			}
		}
	}
	for _, s := range tg.Services {
		add(fmt.Sprintf("group %q", tg.Name), s)
	}
	for _, t := range tg.Tasks {
		if t == nil {
			continue
		}
		for _, s := range t.Services {
			add(fmt.Sprintf("group %q task %q", tg.Name, t.Name), s)
		}
	}
	return out
}

// AddressWarnings reports the service addresses and ports of job that
// refer to a node attribute (${attr.X}) or node meta (${meta.X}) that no
// node the job may run on has: the agent registers such an instance with
// the reference unresolved, and it never becomes healthy. The nodes looked
// at are the eligible ones: ready, eligible, not draining, in one of the
// job's datacenters. With none of them there is nothing to say (the
// plan's placement failures say why). Submit and plan both report these.
func AddressWarnings(job *jobspec.Job, nodes []*structs.Node) []string {
	var refs []addrRef
	for _, tg := range job.TaskGroups {
		if tg != nil {
			refs = append(refs, serviceRefs(tg)...)
		}
	}
	if len(refs) == 0 {
		return nil
	}
	eligible := eligibleNodes(job, nodes)
	if len(eligible) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.where+r.field+r.kind+r.key] || slices.ContainsFunc(eligible, r.has) {
			continue
		}
		seen[r.where+r.field+r.kind+r.key] = true
		out = append(out, fmt.Sprintf("%s: %s %q refers to node %s %q, which none of the %d eligible nodes has: the agent cannot resolve it and the service never becomes healthy; %s",
			r.where, r.field, r.value, r.what(), r.key, len(eligible), suggestion(r.kind, r.field, eligible)))
	}
	return out
}

// placedWarnings reports, per group, the service references that some of
// the nodes the plan runs the group's allocations on cannot resolve
// (when at least one eligible node can: AddressWarnings covers the rest).
func placedWarnings(job *jobspec.Job, nodes []*structs.Node, placed map[string][]*structs.Node) []string {
	eligible := eligibleNodes(job, nodes)
	var out []string
	for _, tg := range job.TaskGroups {
		on := placed[tg.Name]
		seen := map[string]bool{}
		for _, r := range serviceRefs(tg) {
			if len(on) == 0 || seen[r.where+r.field+r.kind+r.key] || !slices.ContainsFunc(eligible, r.has) {
				continue
			}
			seen[r.where+r.field+r.kind+r.key] = true
			var lack []string
			for _, n := range on {
				if !r.has(n) {
					lack = append(lack, n.Name)
				}
			}
			if len(lack) == 0 {
				continue
			}
			sort.Strings(lack)
			if len(lack) > maxSuggestions {
				lack = append(lack[:maxSuggestions], "…")
			}
			out = append(out, fmt.Sprintf("%s: %s %q refers to node %s %q, which %d of the %d nodes this plan runs the group on lack (%s): instances there cannot resolve it; %s",
				r.where, r.field, r.value, r.what(), r.key, len(lack), len(on), strings.Join(lack, ", "), constrain(r)))
		}
	}
	return out
}

// constrain says how to keep a group on the nodes that resolve r.
func constrain(r addrRef) string {
	return fmt.Sprintf("add constraint { attribute = \"${%s.%s}\"  operator = \"is_set\" } to the group, or use an attribute every node has", r.kind, r.key)
}

func eligibleNodes(job *jobspec.Job, nodes []*structs.Node) []*structs.Node {
	dcs := job.Datacenters
	if len(dcs) == 0 {
		dcs = []string{"*"}
	}
	var out []*structs.Node
	for _, n := range nodes {
		if n != nil && n.Status == structs.NodeReady && n.Eligible && !n.Drain && scheduler.DatacenterMatch(dcs, n.Datacenter) {
			out = append(out, n)
		}
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
