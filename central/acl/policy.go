package acl

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Sentinel errors.
var (
	// ErrBadPolicy wraps every error about a policy file.
	ErrBadPolicy = errors.New("acl: invalid policy")
	// ErrPermissionDenied is wrapped by Denied.
	ErrPermissionDenied = errors.New("Permission denied")
	// ErrBootstrapDone is returned by a second bootstrap; the message
	// carries the reset index (see docs/acl.md).
	ErrBootstrapDone = errors.New("ACL bootstrap already done")
	// ErrNoSuchPolicy and ErrNoSuchToken name a missing policy or token.
	ErrNoSuchPolicy = errors.New("ACL policy not found")
	ErrNoSuchToken  = errors.New("ACL token not found")
	// ErrBadToken wraps an invalid token record (type, policies, name).
	ErrBadToken = errors.New("acl: invalid token")
)

// MaxPolicySize bounds a policy file.
const MaxPolicySize = 64 << 10

// Policy levels of a namespace, node, agent or operator block.
const (
	PolicyDeny  = "deny"
	PolicyRead  = "read"
	PolicyWrite = "write"
	PolicyScale = "scale" // namespace only
	PolicyList  = "list"  // node only: read the node list (Nomad); same as read here
)

// Namespace capabilities. Tether checks list-jobs, read-job, submit-job,
// dispatch-job, read-logs, alloc-exec and alloc-lifecycle; the others are
// accepted so that Nomad policy files parse.
const (
	CapDeny                = "deny"
	CapListJobs            = "list-jobs"
	CapParseJob            = "parse-job"
	CapReadJob             = "read-job"
	CapSubmitJob           = "submit-job"
	CapDispatchJob         = "dispatch-job"
	CapReadLogs            = "read-logs"
	CapReadFS              = "read-fs"
	CapAllocExec           = "alloc-exec"
	CapAllocNodeExec       = "alloc-node-exec"
	CapAllocLifecycle      = "alloc-lifecycle"
	CapScaleJob            = "scale-job"
	CapReadJobScaling      = "read-job-scaling"
	CapListScalingPolicies = "list-scaling-policies"
	CapReadScalingPolicy   = "read-scaling-policy"
	CapCSIListVolume       = "csi-list-volume"
	CapCSIReadVolume       = "csi-read-volume"
	CapCSIWriteVolume      = "csi-write-volume"
	CapCSIMountVolume      = "csi-mount-volume"
	CapCSIRegisterPlugin   = "csi-register-plugin"
	CapSentinelOverride    = "sentinel-override"
	CapSubmitRecommend     = "submit-recommendation"
)

var knownCaps = map[string]bool{}

func init() {
	for _, c := range []string{CapDeny, CapListJobs, CapParseJob, CapReadJob, CapSubmitJob, CapDispatchJob,
		CapReadLogs, CapReadFS, CapAllocExec, CapAllocNodeExec, CapAllocLifecycle, CapScaleJob,
		CapReadJobScaling, CapListScalingPolicies, CapReadScalingPolicy, CapCSIListVolume,
		CapCSIReadVolume, CapCSIWriteVolume, CapCSIMountVolume, CapCSIRegisterPlugin,
		CapSentinelOverride, CapSubmitRecommend} {
		knownCaps[c] = true
	}
}

// expand maps a namespace policy to its capabilities, as Nomad does.
func expand(policy string) []string {
	read := []string{CapListJobs, CapParseJob, CapReadJob, CapCSIListVolume, CapCSIReadVolume,
		CapReadJobScaling, CapListScalingPolicies, CapReadScalingPolicy}
	switch policy {
	case PolicyDeny:
		return []string{CapDeny}
	case PolicyRead:
		return read
	case PolicyWrite:
		return append(read, CapScaleJob, CapSubmitJob, CapDispatchJob, CapReadLogs, CapReadFS,
			CapAllocExec, CapAllocLifecycle, CapCSIMountVolume, CapCSIWriteVolume, CapSubmitRecommend)
	case PolicyScale:
		return []string{CapListScalingPolicies, CapReadScalingPolicy, CapReadJobScaling, CapScaleJob}
	}
	return nil
}

// Policy is a named, stored policy: its HCL rules as written and their
// parsed form. Rules is the source of truth; Parsed is filled by Parse.
type Policy struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Rules       string `json:"rules"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// Rules is a parsed policy file.
type Rules struct {
	Namespaces []NamespaceRule
	Node       string // "" = no rule
	Agent      string
	Operator   string
}

// NamespaceRule is one namespace block: a name (a glob with "*") and the
// capabilities it grants (its policy expanded, plus explicit ones).
type NamespaceRule struct {
	Name         string
	Policy       string
	Capabilities []string
}

type fileSpec struct {
	Namespaces []nsSpec   `hcl:"namespace,block"`
	Node       *levelSpec `hcl:"node,block"`
	Agent      *levelSpec `hcl:"agent,block"`
	Operator   *levelSpec `hcl:"operator,block"`
	Remain     hcl.Body   `hcl:",remain"`
}

type nsSpec struct {
	Name         string         `hcl:"name,label"`
	DefRange     hcl.Range      `hcl:",def_range"` // for errors about the block as a whole
	Policy       hcl.Expression `hcl:"policy,optional"`
	Capabilities hcl.Expression `hcl:"capabilities,optional"`
}

type levelSpec struct {
	Policy hcl.Expression `hcl:"policy"`
}

// ValidName reports whether a policy name is usable: 1 to 128 of
// letters, digits, '-' and '_'.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Parse parses a policy file. Errors name the file and line and wrap
// ErrBadPolicy. It never panics on input.
func Parse(filename string, src []byte) (*Rules, error) {
	if len(src) > MaxPolicySize {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d)", ErrBadPolicy, filename, len(src), MaxPolicySize)
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, diagErr(diags)
	}
	var spec fileSpec
	if diags := gohcl.DecodeBody(f.Body, nil, &spec); diags.HasErrors() {
		return nil, diagErr(diags)
	}
	if attrs, _ := spec.Remain.JustAttributes(); len(attrs) > 0 {
		for _, a := range attrs {
			return nil, posErr(a.NameRange, "unknown attribute %q: a policy has namespace, node, agent and operator blocks", a.Name)
		}
	}
	if sb, ok := spec.Remain.(*hclsyntax.Body); ok {
		for _, b := range sb.Blocks {
			switch b.Type {
			case "namespace", "node", "agent", "operator":
				continue
			}
			return nil, posErr(b.TypeRange, "unsupported block %q: use namespace, node, agent or operator", b.Type)
		}
	}
	r := &Rules{}
	for _, ns := range spec.Namespaces {
		if ns.Name == "" {
			return nil, posErr(ns.DefRange, "a namespace block needs a name or a glob such as \"*\"")
		}
		rule := NamespaceRule{Name: ns.Name}
		pol, rng, err := strAttr(ns.Policy)
		if err != nil {
			return nil, err
		}
		if pol != "" {
			switch pol {
			case PolicyDeny, PolicyRead, PolicyWrite, PolicyScale:
			default:
				return nil, posErr(rng, "namespace %q: policy %q: want read, write, scale or deny", ns.Name, pol)
			}
			rule.Policy = pol
			rule.Capabilities = expand(pol)
		}
		caps, err := listAttr(ns.Capabilities)
		if err != nil {
			return nil, err
		}
		for _, c := range caps {
			if !knownCaps[c] {
				return nil, posErr(ns.Capabilities.Range(), "namespace %q: unknown capability %q (known: %s)", ns.Name, c, strings.Join(KnownCapabilities(), ", "))
			}
		}
		rule.Capabilities = append(rule.Capabilities, caps...)
		if len(rule.Capabilities) == 0 {
			return nil, posErr(ns.DefRange, "namespace %q grants nothing: set policy or capabilities", ns.Name)
		}
		r.Namespaces = append(r.Namespaces, rule)
	}
	for _, lv := range []struct {
		name  string
		spec  *levelSpec
		dst   *string
		extra string
	}{{"node", spec.Node, &r.Node, PolicyList}, {"agent", spec.Agent, &r.Agent, ""}, {"operator", spec.Operator, &r.Operator, ""}} {
		if lv.spec == nil {
			continue
		}
		pol, rng, err := strAttr(lv.spec.Policy)
		if err != nil {
			return nil, err
		}
		switch {
		case pol == PolicyDeny, pol == PolicyRead, pol == PolicyWrite:
		case pol != "" && pol == lv.extra:
			pol = PolicyRead
		default:
			return nil, posErr(rng, "%s policy %q: want read, write or deny", lv.name, pol)
		}
		*lv.dst = pol
	}
	if len(r.Namespaces) == 0 && r.Node == "" && r.Agent == "" && r.Operator == "" {
		return nil, fmt.Errorf("%w: %s has no rules: add a namespace, node, agent or operator block", ErrBadPolicy, filename)
	}
	return r, nil
}

// KnownCapabilities lists the namespace capabilities a policy may name.
func KnownCapabilities() []string {
	out := make([]string, 0, len(knownCaps))
	for c := range knownCaps {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func strAttr(expr hcl.Expression) (string, hcl.Range, error) {
	if expr == nil {
		return "", hcl.Range{}, nil
	}
	rng := expr.Range()
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return "", rng, diagErr(diags)
	}
	if v.IsNull() {
		return "", rng, nil
	}
	if !v.Type().Equals(ctyString) || !v.IsKnown() {
		return "", rng, posErr(rng, "want a string such as \"read\"")
	}
	return v.AsString(), rng, nil
}

func listAttr(expr hcl.Expression) ([]string, error) {
	if expr == nil {
		return nil, nil
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return nil, diagErr(diags)
	}
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
		return nil, posErr(expr.Range(), "capabilities: want a list of strings such as [\"read-job\"]")
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() || !e.Type().Equals(ctyString) {
			return nil, posErr(expr.Range(), "capabilities: want a list of strings such as [\"read-job\"]")
		}
		out = append(out, e.AsString())
	}
	return out, nil
}

func posErr(rng hcl.Range, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrBadPolicy, rng.Filename, rng.Start.Line, fmt.Sprintf(format, args...))
}

func diagErr(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			return posErr(*d.Subject, "%s", msg)
		}
		return fmt.Errorf("%w: %s", ErrBadPolicy, msg)
	}
	return fmt.Errorf("%w: %s", ErrBadPolicy, diags.Error())
}
