package scheduler

import (
	"regexp"
	"strconv"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// Constraint operators, as Nomad spells them.
const (
	OpEqual            = "="
	OpEqual2           = "=="
	OpIs               = "is"
	OpNotEqual         = "!="
	OpNot              = "not"
	OpLess             = "<"
	OpLessEqual        = "<="
	OpGreater          = ">"
	OpGreaterEqual     = ">="
	OpRegexp           = "regexp"
	OpVersion          = "version"
	OpSemver           = "semver"
	OpSetContains      = "set_contains"
	OpSetContainsAll   = "set_contains_all"
	OpSetContainsAny   = "set_contains_any"
	OpIsSet            = "is_set"
	OpIsNotSet         = "is_not_set"
	OpDistinctHosts    = "distinct_hosts"
	OpDistinctProperty = "distinct_property"
)

// constraintString is how a constraint is named in AllocMetric's
// ConstraintFiltered, e.g. "${attr.cpu.arch} = arm64".
func constraintString(c *jobspec.Constraint) string {
	return strings.TrimSpace(c.LTarget + " " + c.Operand + " " + c.RTarget)
}

// resolveTarget returns the value a constraint target names on node n and
// whether it is set. Targets that are not ${...} are literals.
func resolveTarget(target string, n *structs.Node) (string, bool) {
	if !strings.HasPrefix(target, "${") || !strings.HasSuffix(target, "}") {
		return target, true
	}
	name := target[2 : len(target)-1]
	switch {
	case name == "node.unique.id":
		return n.ID, true
	case name == "node.unique.name":
		return n.Name, true
	case name == "node.datacenter":
		return n.Datacenter, true
	case name == "node.class", name == "node.region", name == "node.pool":
		return "", true // Tether nodes have none of these yet
	case strings.HasPrefix(name, "attr."):
		v, ok := n.Attributes[name[len("attr."):]]
		return v, ok
	case strings.HasPrefix(name, "meta."):
		v, ok := n.Meta[name[len("meta."):]]
		return v, ok
	}
	return "", false
}

// checkConstraint evaluates one non-distinct constraint against node n.
func (s *sched) checkConstraint(c *jobspec.Constraint, n *structs.Node) bool {
	l, lok := resolveTarget(c.LTarget, n)
	r, rok := resolveTarget(c.RTarget, n)
	return s.checkOp(c.Operand, l, lok, r, rok)
}

func (s *sched) checkOp(op, l string, lok bool, r string, rok bool) bool {
	switch op {
	case OpEqual, OpEqual2, OpIs, "":
		return lok && rok && l == r
	case OpNotEqual, OpNot:
		return lok != rok || l != r
	case OpLess, OpLessEqual, OpGreater, OpGreaterEqual:
		return lok && rok && checkOrder(op, l, r)
	case OpIsSet:
		return lok
	case OpIsNotSet:
		return !lok
	case OpRegexp:
		return lok && rok && s.checkRegexp(l, r)
	case OpVersion:
		return lok && rok && s.checkVersion(l, r, false)
	case OpSemver:
		return lok && rok && s.checkVersion(l, r, true)
	case OpSetContains, OpSetContainsAll:
		return lok && rok && setContains(l, r, true)
	case OpSetContainsAny:
		return lok && rok && setContains(l, r, false)
	}
	return false // unknown operators never match
}

// checkOrder compares numerically when both sides are numbers, else
// lexically.
func checkOrder(op, l, r string) bool {
	var c int
	lf, lerr := strconv.ParseFloat(l, 64)
	rf, rerr := strconv.ParseFloat(r, 64)
	if lerr == nil && rerr == nil {
		switch {
		case lf < rf:
			c = -1
		case lf > rf:
			c = 1
		}
	} else {
		c = strings.Compare(l, r)
	}
	switch op {
	case OpLess:
		return c < 0
	case OpLessEqual:
		return c <= 0
	case OpGreater:
		return c > 0
	default:
		return c >= 0
	}
}

func (s *sched) checkRegexp(l, pattern string) bool {
	if s.regexps == nil {
		s.regexps = map[string]*regexp.Regexp{}
	}
	re, ok := s.regexps[pattern]
	if !ok {
		re, _ = regexp.Compile(pattern) // an invalid pattern matches nothing
		s.regexps[pattern] = re
	}
	return re != nil && re.MatchString(l)
}

// checkVersion checks l against the constraint list r (">= 1.2, < 2").
// version parses l leniently ("1.2" is fine); semver requires l to be a
// semantic version.
func (s *sched) checkVersion(l, r string, semver bool) bool {
	cache := &s.versions
	if semver {
		cache = &s.semvers
	}
	if *cache == nil {
		*cache = map[string]version.Constraints{}
	}
	cs, ok := (*cache)[r]
	if !ok {
		cs, _ = version.NewConstraint(r) // an invalid constraint matches nothing
		(*cache)[r] = cs
	}
	if cs == nil {
		return false
	}
	return s.parseVersion(l, semver) != nil && cs.Check(s.parseVersion(l, semver))
}

// parseVersion parses (and caches: node fingerprints repeat a lot) a
// version; nil if l is not one.
func (s *sched) parseVersion(l string, semver bool) *version.Version {
	key := versionKey{l, semver}
	if v, ok := s.parsed[key]; ok {
		return v
	}
	var v *version.Version
	var err error
	if semver {
		v, err = version.NewSemver(l)
	} else {
		v, err = version.NewVersion(l)
	}
	if err != nil {
		v = nil
	}
	if s.parsed == nil {
		s.parsed = map[versionKey]*version.Version{}
	}
	s.parsed[key] = v
	return v
}

type versionKey struct {
	s      string
	semver bool
}

// setContains reports whether the comma list l holds all (or any) of the
// items of the comma list r.
func setContains(l, r string, all bool) bool {
	have := map[string]bool{}
	for _, x := range strings.Split(l, ",") {
		have[strings.TrimSpace(x)] = true
	}
	for _, x := range strings.Split(r, ",") {
		ok := have[strings.TrimSpace(x)]
		if all && !ok {
			return false
		}
		if !all && ok {
			return true
		}
	}
	return all
}
