package jobspec

import "strings"

// resolvePortRefs turns a service or check port written as the port's
// runtime variable ("${NOMAD_PORT_api}", "${NOMAD_HOST_PORT_api}", or the
// TETHER_ spellings) into the label of the group's port it names. Nomad
// interpolates that variable on the node into the port's number, which is
// then the service's port: the same port as the label. The variable's
// name may be the label as written or cleaned as environment names are
// (non-alphanumerics become "_": NOMAD_PORT_public_api for "public-api").
// A reference to no port of the group is left for validation to report.
func resolvePortRefs(g *TaskGroup) {
	var labels []string
	for _, n := range g.Networks {
		if n == nil {
			continue
		}
		for _, p := range n.Ports {
			if p != nil {
				labels = append(labels, p.Label)
			}
		}
	}
	fix := func(s *string) {
		if l, ok := portRefLabel(*s, labels); ok {
			*s = l
		}
	}
	services := g.Services
	for _, t := range g.Tasks {
		if t != nil {
			services = append(services[:len(services):len(services)], t.Services...)
		}
	}
	for _, s := range services {
		if s == nil {
			continue
		}
		fix(&s.PortLabel)
		for _, c := range s.Checks {
			if c != nil {
				fix(&c.PortLabel)
			}
		}
	}
}

// portRefLabel returns the label among labels that ref, a whole
// "${<prefix>PORT_<name>}", names.
func portRefLabel(ref string, labels []string) (string, bool) {
	inner, ok := strings.CutPrefix(ref, "${")
	if !ok {
		return "", false
	}
	if inner, ok = strings.CutSuffix(inner, "}"); !ok {
		return "", false
	}
	var name string
	for _, prefix := range []string{"NOMAD_PORT_", "NOMAD_HOST_PORT_", "TETHER_PORT_", "TETHER_HOST_PORT_"} {
		if n, ok := strings.CutPrefix(inner, prefix); ok {
			name = n
			break
		}
	}
	if name == "" {
		return "", false
	}
	for _, l := range labels {
		if l == name {
			return l, true
		}
	}
	for _, l := range labels {
		if cleanEnvName(l) == name {
			return l, true
		}
	}
	return "", false
}

// cleanEnvName is a name as it appears in an environment variable: every
// character other than a letter, a digit or "_" becomes "_", as Nomad does.
func cleanEnvName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
