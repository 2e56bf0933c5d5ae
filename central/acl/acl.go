package acl

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

var ctyString = cty.String

// Level is a node, agent or operator access level.
type Level int

// Levels, in order; a grant of Write implies Read.
const (
	None Level = iota
	Read
	Write
)

func (l Level) String() string {
	switch l {
	case Read:
		return PolicyRead
	case Write:
		return PolicyWrite
	}
	return "none"
}

// ACL is the compiled, merged rules of one token. It is immutable and safe
// to share.
type ACL struct {
	management bool
	exact      map[string]capSet // namespace name → capabilities
	globs      []globRule
	node       level
	agent      level
	operator   level
}

type capSet map[string]bool

type globRule struct {
	pattern string
	caps    capSet
}

// level merges grants: deny wins, else the highest grant.
type level struct {
	deny  bool
	grant Level
}

func (l *level) add(policy string) {
	switch policy {
	case PolicyDeny:
		l.deny = true
	case PolicyRead:
		l.grant = max(l.grant, Read)
	case PolicyWrite:
		l.grant = max(l.grant, Write)
	}
}

func (l level) allow(want Level) bool { return !l.deny && l.grant >= want }

// Management is the ACL of a management token: everything is allowed.
var Management = &ACL{management: true}

// Compile merges the rules of a token's policies. Rules for the same
// namespace name merge their capabilities.
func Compile(rules []*Rules) *ACL {
	a := &ACL{exact: map[string]capSet{}}
	globs := map[string]capSet{}
	for _, r := range rules {
		if r == nil {
			continue
		}
		for _, ns := range r.Namespaces {
			dst := a.exact
			if strings.Contains(ns.Name, "*") {
				dst = globs
			}
			cs := dst[ns.Name]
			if cs == nil {
				cs = capSet{}
				dst[ns.Name] = cs
			}
			for _, c := range ns.Capabilities {
				cs[c] = true
			}
		}
		a.node.add(r.Node)
		a.agent.add(r.Agent)
		a.operator.add(r.Operator)
	}
	for p, cs := range globs {
		a.globs = append(a.globs, globRule{p, cs})
	}
	return a
}

// IsManagement reports whether a is a management ACL.
func (a *ACL) IsManagement() bool { return a != nil && a.management }

// AllowNamespace reports whether capability is granted in namespace ns.
func (a *ACL) AllowNamespace(ns, capability string) bool {
	if a == nil {
		return false
	}
	if a.management {
		return true
	}
	cs := a.namespaceCaps(ns)
	if cs == nil || cs[CapDeny] {
		return false
	}
	return cs[capability]
}

// AllowAnyNamespace reports whether capability is granted in at least one
// namespace the rules name (exact or glob), for list endpoints that span
// namespaces and filter their results.
func (a *ACL) AllowAnyNamespace(capability string) bool {
	if a == nil {
		return false
	}
	if a.management {
		return true
	}
	for _, cs := range a.exact {
		if cs[capability] && !cs[CapDeny] {
			return true
		}
	}
	for _, g := range a.globs {
		if g.caps[capability] && !g.caps[CapDeny] {
			return true
		}
	}
	return false
}

// namespaceCaps picks the exact rule, else the closest matching glob.
func (a *ACL) namespaceCaps(ns string) capSet {
	if cs, ok := a.exact[ns]; ok {
		return cs
	}
	var best capSet
	bestDiff, bestPat := -1, ""
	for _, g := range a.globs {
		if !globMatch(g.pattern, ns) {
			continue
		}
		diff := len(ns) - len(strings.ReplaceAll(g.pattern, "*", ""))
		if bestDiff < 0 || diff < bestDiff || diff == bestDiff && g.pattern < bestPat {
			best, bestDiff, bestPat = g.caps, diff, g.pattern
		}
	}
	return best
}

// AllowNode, AllowAgent and AllowOperator report whether the level is
// granted (deny in any policy wins).
func (a *ACL) AllowNode(l Level) bool     { return a != nil && (a.management || a.node.allow(l)) }
func (a *ACL) AllowAgent(l Level) bool    { return a != nil && (a.management || a.agent.allow(l)) }
func (a *ACL) AllowOperator(l Level) bool { return a != nil && (a.management || a.operator.allow(l)) }

// globMatch matches s against pattern, where "*" matches any run of
// characters (including none).
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, last)
}

// Denied is the error for a missing permission; its message names what is
// missing, e.g. `Permission denied: token lacks capability "submit-job" in
// namespace "default"`.
func Denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermissionDenied, fmt.Sprintf(format, args...))
}
