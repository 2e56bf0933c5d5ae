package api

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// ServiceListEntry is one element of GET /v1/services: a service name in a
// namespace with the union of its instances' tags.
type ServiceListEntry struct {
	ServiceName string   `json:"service_name"`
	Namespace   string   `json:"namespace"`
	Tags        []string `json:"tags"`
}

// serviceNamespace is the namespace to read ("" = every one, for ?namespace=*).
func serviceNamespace(r *http.Request) string {
	if ns := namespace(r); ns != "*" {
		return ns
	}
	return ""
}

func (s *server) listServices(w http.ResponseWriter, r *http.Request) error {
	idx, err := s.block(r, tableServices)
	if err != nil {
		return err
	}
	type key struct{ name, ns string }
	tags := map[key]map[string]bool{}
	for _, reg := range s.b.State().Services(serviceNamespace(r)) {
		if !canNS(r, reg.Namespace, acl.CapReadJob) {
			continue
		}
		k := key{reg.ServiceName, reg.Namespace}
		if tags[k] == nil {
			tags[k] = map[string]bool{}
		}
		for _, t := range reg.Tags {
			tags[k][t] = true
		}
	}
	out := make([]ServiceListEntry, 0, len(tags))
	for k, ts := range tags {
		e := ServiceListEntry{ServiceName: k.name, Namespace: k.ns, Tags: make([]string, 0, len(ts))}
		for t := range ts {
			e.Tags = append(e.Tags, t)
		}
		sort.Strings(e.Tags)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ServiceName != out[j].ServiceName {
			return out[i].ServiceName < out[j].ServiceName
		}
		return out[i].Namespace < out[j].Namespace
	})
	return writeJSON(w, idx, out)
}

// getService lists a service's instances: the healthy ones unless
// ?all=true, those carrying every ?tag= given, and with ?choose=N|key the
// N of them that rendezvous hashing picks for key. An unknown service is
// an empty list, so a blocking query can wait for it to appear.
func (s *server) getService(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	all := false
	if v := q.Get("all"); v != "" {
		var err error
		if all, err = strconv.ParseBool(v); err != nil {
			return badRequest("all %q: want true or false", v)
		}
	}
	var chooseN int
	var chooseKey string
	if c := q.Get("choose"); c != "" {
		n, k, ok := strings.Cut(c, "|")
		var err error
		chooseN, err = strconv.Atoi(n)
		if !ok || err != nil || chooseN < 1 || k == "" {
			return badRequest("choose %q: want N|key, e.g. ?choose=2|client-7 (N at least 1, key not empty)", c)
		}
		chooseKey = k
	}
	name := r.PathValue("name")
	if !protocol.ValidID(name) {
		return badRequest("service name %q: it must be 1-128 bytes without '/', '+', '#' or control characters", name)
	}
	idx, err := s.block(r, tableServices)
	if err != nil {
		return err
	}
	wantTags := q["tag"]
	out := []*structs.ServiceRegistration{}
	for _, reg := range s.b.State().ServiceByName(serviceNamespace(r), name) {
		if !all && !reg.Healthy {
			continue
		}
		if !hasTags(reg.Tags, wantTags) || !canNS(r, reg.Namespace, acl.CapReadJob) {
			continue
		}
		out = append(out, reg)
	}
	if chooseN > 0 {
		byID := make(map[string]*structs.ServiceRegistration, len(out))
		ids := make([]string, 0, len(out))
		for _, reg := range out {
			byID[reg.ID] = reg
			ids = append(ids, reg.ID)
		}
		out = out[:0:0]
		for _, id := range rendezvous(chooseKey, ids, chooseN) {
			out = append(out, byID[id])
		}
	}
	return writeJSON(w, idx, out)
}

func hasTags(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

func (s *server) deleteService(w http.ResponseWriter, r *http.Request) error {
	ns, name, id := namespace(r), r.PathValue("name"), r.PathValue("id")
	var ids []string
	for _, reg := range s.b.State().ServiceByName(ns, name) {
		ids = append(ids, reg.ID)
	}
	id, err := ResolveID(fmt.Sprintf("instance of service %q in namespace %q", name, ns), id, "GET /v1/service/"+name+"?all=true", ids)
	if err != nil {
		return err
	}
	if err := s.b.DeleteService(r.Context(), ns, name, id); err != nil {
		return err
	}
	return writeJSON(w, s.b.State().Index(tableServices), map[string]string{"id": id})
}
