package template

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/template"

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

func (r *renderer) service(q string) ([]ServiceInstance, error) {
	pq, err := parseQuery(q)
	if err != nil {
		return nil, err
	}
	r.used[pq.name] = true
	set, _ := r.lookup.Service(pq.name)
	out := make([]ServiceInstance, 0, len(set.Instances))
	for _, in := range set.Instances {
		if !in.Healthy || (pq.dc != "" && in.Datacenter != pq.dc) || (pq.tag != "" && !hasTag(in.Tags, pq.tag)) {
			continue
		}
		out = append(out, ServiceInstance{
			ID: in.ID, Name: pq.name, Namespace: "default", NodeID: in.NodeID, Datacenter: in.Datacenter,
			JobID: in.JobID, AllocID: in.AllocID, Address: in.Address, Port: in.Port,
			Tags: append([]string(nil), in.Tags...),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Address != b.Address {
			return a.Address < b.Address
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.ID < b.ID
	})
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

func (r *renderer) funcs() template.FuncMap {
	return template.FuncMap{
		"service":      r.service,
		"nomadService": r.service,
		"env":          func(k string) string { return r.lookup.Env(k) },
		"toJSON":       toJSON,
		"toJSONPretty": toJSONPretty,
		"join":         func(sep string, l []string) string { return strings.Join(l, sep) },
		"split":        func(sep, s string) []string { return strings.Split(s, sep) },
		"contains":     func(needle string, l []string) bool { return hasTag(l, needle) },
		"toLower":      strings.ToLower,
		"toUpper":      strings.ToUpper,
		"trimSpace":    strings.TrimSpace,
		"replaceAll":   func(from, to, s string) string { return strings.ReplaceAll(s, from, to) },
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
