package template

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/tether-edge/tether/agent/template/internal/eval"
	"github.com/tether-edge/tether/protocol"
)

// ServiceInstance is one healthy instance as a template sees it: the fields
// of Nomad's nomadService (and the ones of consul-template's service that
// make sense here).
type ServiceInstance struct {
	ID         string
	Name       string
	Namespace  string
	NodeID     string
	Datacenter string
	JobID      string
	AllocID    string
	Address    string
	Port       int
	Tags       []string
}

// instanceFields are the fields a template may read: {{ .Address }}.
var instanceFields = []string{"ID", "Name", "Namespace", "NodeID", "Datacenter", "JobID", "AllocID", "Address", "Port", "Tags"}

// Field returns the field called name (eval.Record): the evaluator reads
// fields through this switch, not through reflection.
func (s ServiceInstance) Field(name string) (any, bool) {
	switch name {
	case "ID":
		return s.ID, true
	case "Name":
		return s.Name, true
	case "Namespace":
		return s.Namespace, true
	case "NodeID":
		return s.NodeID, true
	case "Datacenter":
		return s.Datacenter, true
	case "JobID":
		return s.JobID, true
	case "AllocID":
		return s.AllocID, true
	case "Address":
		return s.Address, true
	case "Port":
		return s.Port, true
	case "Tags":
		return s.Tags, true
	}
	return nil, false
}

// Lookup is what a render reads.
type Lookup interface {
	// Service returns the cached set of a service (known false: none yet).
	Service(name string) (protocol.ServiceSet, bool)
	// Env is the value of env "key" ("" if unset).
	Env(key string) string
}

// query is a parsed service query: [tag.]name[@dc].
type query struct {
	tag, name, dc string
}

func parseQuery(s string) (query, error) {
	var q query
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s, q.dc = s[:i], s[i+1:]
	}
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		q.tag, s = s[:i], s[i+1:]
	}
	q.name = s
	if err := protocol.CheckID("service name", q.name); err != nil {
		return q, err
	}
	return q, nil
}

// renderer holds what one render reads and records. A Template renders
// with one renderer at a time.
type renderer struct {
	lookup Lookup
	used   map[string]bool // service names looked up
}

// service returns the healthy instances matching q, sorted by address,
// port and ID, as eval.Records (each a ServiceInstance).
func (r *renderer) service(q string) ([]eval.Record, error) {
	pq, err := parseQuery(q)
	if err != nil {
		return nil, err
	}
	r.used[pq.name] = true
	set, _ := r.lookup.Service(pq.name)
	var found []ServiceInstance
	for _, in := range set.Instances {
		if !in.Healthy || (pq.dc != "" && in.Datacenter != pq.dc) || (pq.tag != "" && !hasTag(in.Tags, pq.tag)) {
			continue
		}
		var tags []string
		if len(in.Tags) > 0 {
			tags = make([]string, len(in.Tags))
			copy(tags, in.Tags)
		}
		found = append(found, ServiceInstance{
			ID: in.ID, Name: pq.name, Namespace: "default", NodeID: in.NodeID, Datacenter: in.Datacenter,
			JobID: in.JobID, AllocID: in.AllocID, Address: in.Address, Port: in.Port, Tags: tags,
		})
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.ID < b.ID
	})
	// Exactly as long as it is (slice may reach up to the capacity).
	out := make([]eval.Record, len(found))
	for i, in := range found {
		out[i] = in
	}
	return out, nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// serviceFuncs are the names that query services; Names scans for them.
var serviceFuncs = map[string]bool{"service": true, "nomadService": true}

func (r *renderer) env(k string) string { return r.lookup.Env(k) }

func join(sep string, l []string) string      { return strings.Join(l, sep) }
func contains(needle string, l []string) bool { return hasTag(l, needle) }

// maxMade bounds what one split or replaceAll may make: their output can
// be many times their input (split "" of 1 MB is a million strings).
const maxMade = 16 << 20

func split(sep, s string) ([]string, error) {
	if parts := strings.Count(s, sep) + 1; parts*16 > maxMade {
		return nil, fmt.Errorf("split: %d parts is more than a template may make", parts)
	}
	return strings.Split(s, sep), nil
}

func replaceAll(from, to, s string) (string, error) {
	if n := strings.Count(s, from); len(s)+n*len(to) > maxMade {
		return "", fmt.Errorf("replaceAll: the result would be more than %d bytes", maxMade)
	}
	return strings.ReplaceAll(s, from, to), nil
}

// funcs are the functions a template may call besides the builtins, with
// their parameter types for the evaluator.
func (r *renderer) funcs() map[string]eval.Func {
	str := []eval.Type{eval.String}
	strFn := func(f func(string) string) eval.Func {
		return eval.Func{Params: str, Call: func(a []any) (any, error) { return f(a[0].(string)), nil }}
	}
	service := eval.Func{Params: str, Call: func(a []any) (any, error) { return r.service(a[0].(string)) }}
	return map[string]eval.Func{
		"service":      service,
		"nomadService": service,
		"env":          strFn(r.env),
		"toJSON":       {Params: []eval.Type{eval.Any}, Call: func(a []any) (any, error) { return toJSON(a[0]) }},
		"toJSONPretty": {Params: []eval.Type{eval.Any}, Call: func(a []any) (any, error) { return toJSONPretty(a[0]) }},
		"join": {Params: []eval.Type{eval.String, eval.Strings},
			Call: func(a []any) (any, error) { return join(a[0].(string), a[1].([]string)), nil }},
		"split": {Params: []eval.Type{eval.String, eval.String},
			Call: func(a []any) (any, error) { return split(a[0].(string), a[1].(string)) }},
		"contains": {Params: []eval.Type{eval.String, eval.Strings},
			Call: func(a []any) (any, error) { return contains(a[0].(string), a[1].([]string)), nil }},
		"toLower":   strFn(strings.ToLower),
		"toUpper":   strFn(strings.ToUpper),
		"trimSpace": strFn(strings.TrimSpace),
		"replaceAll": {Params: []eval.Type{eval.String, eval.String, eval.String},
			Call: func(a []any) (any, error) { return replaceAll(a[0].(string), a[1].(string), a[2].(string)) }},
	}
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toJSON: %w", err)
	}
	return string(b), nil
}

func toJSONPretty(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("toJSONPretty: %w", err)
	}
	return string(b), nil
}
