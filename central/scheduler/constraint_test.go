package scheduler

import (
	"testing"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

func TestResolveTarget(t *testing.T) {
	n := node("n1", func(n *structs.Node) { n.Meta["rack"] = "r1" })
	tests := []struct {
		target string
		want   string
		found  bool
	}{
		{"${attr.cpu.arch}", "amd64", true},
		{"${attr.missing}", "", false},
		{"${meta.rack}", "r1", true},
		{"${meta.missing}", "", false},
		{"${node.unique.id}", "n1", true},
		{"${node.unique.name}", "name-n1", true},
		{"${node.datacenter}", "dc1", true},
		{"${node.class}", "", true},
		{"${node.region}", "", true},
		{"${bogus.thing}", "", false},
		{"arm64", "arm64", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, found := resolveTarget(tt.target, n)
		if got != tt.want || found != tt.found {
			t.Errorf("resolveTarget(%q) = %q, %v; want %q, %v", tt.target, got, found, tt.want, tt.found)
		}
	}
}

func TestConstraintOperators(t *testing.T) {
	n := node("n1", func(n *structs.Node) {
		n.Attributes["cpu.arch"] = "arm64"
		n.Attributes["cpu.numcores"] = "4"
		n.Attributes["driver.podman.version"] = "4.3.1"
		n.Attributes["tags"] = "gpu, ssd,edge"
		n.Attributes["prerelease"] = "1.3.0-beta1"
		n.Meta["zone"] = "b"
	})
	tests := []struct {
		l, op, r string
		want     bool
	}{
		{"${attr.cpu.arch}", "=", "arm64", true},
		{"${attr.cpu.arch}", "==", "arm64", true},
		{"${attr.cpu.arch}", "is", "arm64", true},
		{"${attr.cpu.arch}", "=", "amd64", false},
		{"${attr.missing}", "=", "", false},
		{"${attr.cpu.arch}", "!=", "amd64", true},
		{"${attr.cpu.arch}", "!=", "arm64", false},
		{"${attr.missing}", "!=", "arm64", true},
		{"${attr.cpu.arch}", "not", "arm64", false},
		{"${attr.cpu.numcores}", "<", "10", true}, // numeric: 4 < 10
		{"${attr.cpu.numcores}", ">", "10", false},
		{"${attr.cpu.numcores}", ">=", "4", true},
		{"${attr.cpu.numcores}", "<=", "3", false},
		{"${meta.zone}", "<", "c", true}, // lexical
		{"${meta.zone}", ">", "a", true},
		{"${meta.zone}", ">=", "b", true},
		{"${attr.missing}", "<", "10", false},
		{"${attr.cpu.arch}", "regexp", "^arm(64|v7)$", true},
		{"${attr.cpu.arch}", "regexp", "^x86", false},
		{"${attr.cpu.arch}", "regexp", "([", false}, // invalid pattern matches nothing
		{"${attr.driver.podman.version}", "version", ">= 4.0, < 5", true},
		{"${attr.driver.podman.version}", "version", ">= 4.4", false},
		{"${attr.driver.podman.version}", "version", "~> 4.3", true},
		{"${attr.driver.podman.version}", "version", "not a constraint", false},
		{"${attr.cpu.arch}", "version", ">= 1", false}, // not a version
		{"${attr.driver.podman.version}", "semver", ">= 4.3.0", true},
		{"${attr.prerelease}", "semver", ">= 1.2", false}, // prereleases need a prerelease constraint
		{"${attr.prerelease}", "semver", ">= 1.3.0-alpha", true},
		{"${attr.tags}", "set_contains", "gpu,ssd", true},
		{"${attr.tags}", "set_contains", "gpu,nvme", false},
		{"${attr.tags}", "set_contains_all", "edge", true},
		{"${attr.tags}", "set_contains_any", "nvme, edge", true},
		{"${attr.tags}", "set_contains_any", "nvme,hdd", false},
		{"${meta.zone}", "is_set", "", true},
		{"${meta.nope}", "is_set", "", false},
		{"${meta.nope}", "is_not_set", "", true},
		{"${meta.zone}", "is_not_set", "", false},
		{"${attr.cpu.arch}", "frobnicate", "arm64", false},
	}
	s := &sched{}
	for _, tt := range tests {
		c := &jobspec.Constraint{LTarget: tt.l, Operand: tt.op, RTarget: tt.r}
		if got := s.checkConstraint(c, n); got != tt.want {
			t.Errorf("%s: got %v, want %v", constraintString(c), got, tt.want)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"*", "dc1", true},
		{"*", "", true},
		{"dc*", "dc1", true},
		{"dc*", "edge1", false},
		{"dc1", "dc1", true},
		{"dc1", "dc10", false},
		{"*-eu", "site-eu", true},
		{"*-eu", "site-us", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
	}
	for _, tt := range tests {
		if got := glob(tt.p, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.p, tt.s, got, tt.want)
		}
	}
}
