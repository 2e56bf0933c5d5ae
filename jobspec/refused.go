package jobspec

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// refusal is a Nomad name Tether refuses: honouring it is not implemented,
// and ignoring it would make the job behave differently than on Nomad. why
// says what would differ, fix what to write instead. An attribute whose
// value is one of same asks for what Tether does anyway: it is accepted and
// has no effect. docs/jobspec.md has one row per name.
type refusal struct {
	why, fix string
	same     []string
}

const removeIt = "remove it"

// Refused names, by block. The specs in decode_job.go point at these.
var (
	refusedJob = map[string]refusal{
		"node_pool":    {why: "Tether has no node pools: every node is in the default pool", fix: `remove it, or write node_pool = "default"`, same: []string{"default", "all"}},
		"migrate":      {why: "a drain migrates a node's allocations all at once; migrate's max_parallel and health gate would be ignored", fix: removeIt + " (docs/operations.md describes drains)"},
		"affinity":     {why: "placement preferences are not implemented, so the job would be placed differently than on Nomad", fix: "write a constraint { ... } (a hard requirement) or remove it"},
		"spread":       {why: "spreading allocations over a property's values is not implemented", fix: `use constraint { distinct_property = "${meta.rack}" } (at most one allocation per value) or remove it`},
		"vault":        {why: "Tether has no Vault integration: the task would start without its secrets", fix: removeIt + "; render secrets with a template { } from what the agent can read"},
		"vault_token":  {why: "Tether has no Vault integration", fix: removeIt},
		"consul":       {why: "Tether has no Consul integration: services use Tether's own catalogue", fix: removeIt + " (docs/services.md)"},
		"consul_token": {why: "Tether has no Consul integration", fix: removeIt},
		"multiregion":  {why: "one Tether cluster is one region: there is no other to deploy to", fix: removeIt + " and submit the job to each cluster"},
	}
	refusedGroup = map[string]refusal{
		"migrate":                    refusedJob["migrate"],
		"affinity":                   refusedJob["affinity"],
		"spread":                     refusedJob["spread"],
		"vault":                      refusedJob["vault"],
		"consul":                     refusedJob["consul"],
		"ephemeral_disk":             {why: "Tether neither reserves disk for an allocation nor keeps (sticky, migrate) its data across replacements", fix: removeIt + "; keep data that must outlive an allocation in a host path (podman: config { volumes = [...] })"},
		"volume":                     {why: "host and CSI volumes are not implemented", fix: removeIt + "; mount a host path with the driver (podman: config { volumes = [\"/srv/data:/data\"] })"},
		"scaling":                    {why: "Tether has no autoscaler and no scale API that would enforce min and max", fix: removeIt + "; set count"},
		"shutdown_delay":             {why: "the agent does not wait between deregistering a group's services and stopping its tasks", fix: removeIt + "; a task's kill_timeout bounds how long it has to stop"},
		"prevent_reschedule_on_lost": {why: "this older form is not read", fix: "write disconnect { replace = false } instead", same: []string{"false"}},
	}
	refusedNetwork = map[string]refusal{
		"dns":      {why: "tasks share the host's network and its resolv.conf", fix: removeIt + "; a Podman task can have its own network with config { network_mode = ... }"},
		"hostname": {why: "tasks share the host's network, and with it its hostname", fix: removeIt},
		"cni":      {why: "there are no CNI networks: tasks share the host's network", fix: removeIt},
		"mbits":    {why: "Tether does not schedule on network bandwidth (Nomad deprecated mbits)", fix: removeIt},
	}
	refusedTask = map[string]refusal{
		"affinity":       refusedJob["affinity"],
		"vault":          refusedJob["vault"],
		"consul":         refusedJob["consul"],
		"scaling":        {why: "Tether has no autoscaler", fix: removeIt},
		"volume_mount":   refusedGroup["volume"],
		"identity":       {why: "workload identities (NOMAD_TOKEN, JWT files) are not implemented", fix: removeIt},
		"csi_plugin":     {why: "CSI is not implemented", fix: removeIt},
		"shutdown_delay": refusedGroup["shutdown_delay"],
		"kind":           {why: "Consul Connect tasks are not implemented", fix: removeIt},
		"schedule":       {why: "time-window task schedules are not implemented", fix: removeIt + "; a periodic job runs on a cron schedule"},
		"action":         {why: "actions are not implemented: there is nothing to run them with", fix: removeIt},
	}
	refusedResources = map[string]refusal{
		"memory_max": {why: "memory oversubscription is not implemented: memory is the task's hard limit", fix: "remove it and raise memory"},
		"device":     {why: "device scheduling (GPUs, USB) is not implemented", fix: removeIt + "; select nodes with a constraint on an attribute or meta key"},
		"network":    {why: "this older form is not read", fix: "put ports in the group's network { port \"name\" { } } block"},
		"numa":       {why: "NUMA-aware scheduling is not implemented", fix: removeIt},
		"disk":       {why: "Tether does not reserve disk", fix: removeIt},
		"iops":       {why: "Tether does not schedule on disk I/O (Nomad deprecated iops)", fix: removeIt},
		"secrets":    {why: "the secrets dir's size is not configurable", fix: removeIt},
	}
	refusedService = map[string]refusal{
		"meta":                {why: "services carry no metadata in Tether's catalogue: a template reading it would get nothing", fix: "put the values in tags, or remove it"},
		"canary_meta":         {why: "services carry no metadata in Tether's catalogue", fix: removeIt},
		"canary_tags":         {why: "canaries are registered with the service's tags", fix: removeIt},
		"enable_tag_override": {why: "a Consul feature: Tether's catalogue has no external tag edits", fix: removeIt},
		"connect":             {why: "Consul Connect (sidecar proxies, intentions) is not implemented", fix: removeIt + "; tasks reach each other through the catalogue (docs/services.md)"},
		"on_update":           {why: "every check counts towards an allocation's health", fix: removeIt, same: []string{"require_healthy"}},
		"task":                {why: "a group service is checked from the agent, not from inside a task", fix: removeIt},
		"identity":            refusedTask["identity"],
		"weights":             {why: "a Consul DNS feature", fix: removeIt},
		"tagged_addresses":    {why: "a Consul feature: services have one address", fix: removeIt},
		"kind":                {why: "a Consul feature", fix: removeIt},
		"cluster":             {why: "a Consul Enterprise feature", fix: removeIt},
	}
	refusedCheck = map[string]refusal{
		"protocol":                 {why: "http checks speak plain HTTP", fix: removeIt, same: []string{"http"}},
		"tls_skip_verify":          {why: "http checks speak plain HTTP", fix: removeIt, same: []string{"false"}},
		"tls_server_name":          {why: "http checks speak plain HTTP", fix: removeIt},
		"expose":                   {why: "a Consul Connect feature", fix: removeIt},
		"initial_status":           {why: "a check starts as failing until it first passes", fix: removeIt, same: []string{"critical"}},
		"success_before_passing":   {why: "one success makes a check pass", fix: removeIt, same: []string{"0", "1"}},
		"failures_before_critical": {why: "one failure makes a check fail", fix: removeIt, same: []string{"0", "1"}},
		"failures_before_warning":  {why: "checks have no warning state", fix: removeIt, same: []string{"0"}},
		"command":                  {why: "script checks are not implemented", fix: `use type = "http" or "tcp"`},
		"args":                     {why: "script checks are not implemented", fix: `use type = "http" or "tcp"`},
		"grpc_service":             {why: "grpc checks are not implemented", fix: `use type = "http" or "tcp"`},
		"grpc_use_tls":             {why: "grpc checks are not implemented", fix: `use type = "http" or "tcp"`},
		"task":                     {why: "checks run from the agent, not inside a task", fix: removeIt},
		"on_update":                refusedService["on_update"],
	}
	refusedTemplate = map[string]refusal{
		"uid":                  {why: "a rendered file belongs to the agent's user", fix: removeIt + "; set perms"},
		"gid":                  {why: "a rendered file belongs to the agent's user", fix: removeIt + "; set perms"},
		"error_on_missing_key": {why: "a missing map key renders as an empty value, as Nomad's default", fix: removeIt, same: []string{"false"}},
		"wait":                 {why: "a template is rendered again as soon as its data changes (splay aside)", fix: removeIt + "; use splay to spread restarts"},
		"change_script":        {why: "change scripts are not implemented", fix: `use change_mode = "restart" or "signal"`},
		"once":                 {why: "a template is rendered again whenever its data changes", fix: removeIt, same: []string{"false"}},
		"vault_grace":          refusedJob["vault_token"],
	}
	refusedArtifact = map[string]refusal{
		"headers": {why: "downloads send no extra headers", fix: removeIt + "; serve the file without them"},
		"chown":   {why: "a downloaded file belongs to the agent's user", fix: removeIt, same: []string{"false"}},
	}
	refusedArtifactOptions = map[string]refusal{
		"archive":               {why: "archives are never unpacked (docs/artifacts.md)", fix: removeIt, same: []string{"false"}},
		"ref":                   {why: "git sources are not supported", fix: "download an https:// file with a checksum"},
		"depth":                 {why: "git sources are not supported", fix: "download an https:// file with a checksum"},
		"sshkey":                {why: "git sources are not supported", fix: "download an https:// file with a checksum"},
		"filename":              {why: "this go-getter option is not read", fix: `use mode = "file" with destination = "local/<name>"`},
		"aws_access_key_id":     {why: "s3 sources are not supported", fix: "download an https:// file with a checksum"},
		"aws_access_key_secret": {why: "s3 sources are not supported", fix: "download an https:// file with a checksum"},
		"region":                {why: "s3 sources are not supported", fix: "download an https:// file with a checksum"},
	}
)

// refuse reports name, written at rng in the block s, unless it is an
// attribute a whose value is one of r.same.
func (d *decoder) refuse(s spec, name string, rng hcl.Range, a *hclsyntax.Attribute, r refusal) {
	if a != nil && len(r.same) > 0 {
		n := len(d.errs)
		v, ok := d.eval(a)
		if ok {
			if sv, err := convert.Convert(v, cty.String); err == nil && slices.Contains(r.same, sv.AsString()) {
				return
			}
		} else if len(d.errs) > n {
			return // its value was reported
		}
	}
	what := fmt.Sprintf("%q", name)
	if a == nil {
		what = "block " + what
	}
	d.errorf(rng, r.fix, "%s: %s is not supported: %s", s.where, what, r.why)
}
