package jobspec

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// A parameterized job's payload requirement (Nomad's names).
const (
	DispatchPayloadOptional  = "optional"
	DispatchPayloadRequired  = "required"
	DispatchPayloadForbidden = "forbidden"
)

// DispatchPayloadSizeLimit is the largest payload a dispatch may carry,
// as Nomad's: 16 KiB.
const DispatchPayloadSizeLimit = 16 << 10

var payloadModes = []string{DispatchPayloadOptional, DispatchPayloadRequired, DispatchPayloadForbidden}

var (
	parameterizedSpec   = spec{attrs: []string{"payload", "meta_required", "meta_optional"}}
	dispatchPayloadSpec = spec{attrs: []string{"file"}}
)

// parameterized decodes a job's parameterized block, or returns nil.
func (d *decoder) parameterized(c content, s spec) *Parameterized {
	b := d.single(c, s, "parameterized")
	if b == nil || !d.labels(b, 0, `parameterized { payload = "optional" }`) {
		return nil
	}
	p := &Parameterized{}
	d.pos.set(p, "", b.DefRange())
	pc := d.content(b.Body, within(parameterizedSpec, s.where+" parameterized"))
	if d.str(pc, "payload", &p.Payload) {
		d.pos.set(p, "payload", pc.attrs["payload"].Expr.Range())
	}
	if l, ok := d.strList(pc, "meta_required"); ok {
		p.MetaRequired = l
		d.pos.set(p, "meta_required", pc.attrs["meta_required"].Expr.Range())
	}
	if l, ok := d.strList(pc, "meta_optional"); ok {
		p.MetaOptional = l
		d.pos.set(p, "meta_optional", pc.attrs["meta_optional"].Expr.Range())
	}
	return p
}

// dispatchPayload decodes a task's dispatch_payload block, or returns nil.
func (d *decoder) dispatchPayload(c content, s spec) *DispatchPayload {
	b := d.single(c, s, "dispatch_payload")
	if b == nil || !d.labels(b, 0, `dispatch_payload { file = "input.json" }`) {
		return nil
	}
	dp := &DispatchPayload{}
	d.pos.set(dp, "", b.DefRange())
	dc := d.content(b.Body, within(dispatchPayloadSpec, s.where+" dispatch_payload"))
	if d.str(dc, "file", &dp.File) {
		d.pos.set(dp, "file", dc.attrs["file"].Expr.Range())
	}
	return dp
}

// dispatch checks a job's parameterized block and its tasks'
// dispatch_payload blocks: Nomad's rules, and a dispatch_payload only
// where a payload can arrive.
func (v *validator) dispatch(j *Job, path string) {
	if p := j.Parameterized; p != nil {
		if !RunsToCompletion(j.Type) {
			v.add(p, "", path, `set type = "batch" (or "sysbatch") on the job: a parameterized job runs to completion once per dispatch`,
				"a parameterized job must be of type \"batch\" or \"sysbatch\", not %q", j.Type)
		}
		if j.Periodic != nil {
			v.add(p, "", path, "keep either periodic or parameterized: dispatch a parameterized job from a periodic job's task, or run a periodic job",
				"job %q is both periodic and parameterized", j.ID)
		}
		if !slices.Contains(payloadModes, p.Payload) {
			v.add(p, "payload", path, oneOf(payloadModes), "unknown parameterized payload %q", p.Payload)
		}
		for _, f := range []struct {
			name string
			keys []string
		}{{"meta_required", p.MetaRequired}, {"meta_optional", p.MetaOptional}} {
			for _, k := range f.keys {
				if strings.TrimSpace(k) == "" {
					v.add(p, f.name, path, "name each meta key", "parameterized %s has an empty key", f.name)
				}
			}
		}
		for _, k := range p.MetaRequired {
			if slices.Contains(p.MetaOptional, k) {
				v.add(p, "meta_optional", path, fmt.Sprintf("list %q in meta_required or meta_optional, not both", k),
					"parameterized meta key %q is both required and optional", k)
			}
		}
	}
	for _, g := range j.TaskGroups {
		if g == nil {
			continue
		}
		for _, t := range g.Tasks {
			if t == nil || t.DispatchPayload == nil {
				continue
			}
			tpath := fmt.Sprintf("%s group %q task %q", path, g.Name, t.Name)
			dp := t.DispatchPayload
			switch {
			case j.Parameterized == nil:
				v.add(dp, "", tpath, "add parameterized { } to the job, or remove dispatch_payload",
					"task %q has dispatch_payload but job %q is not parameterized: no payload would ever arrive", t.Name, j.ID)
			case j.Parameterized.Payload == DispatchPayloadForbidden:
				v.add(dp, "", tpath, `remove dispatch_payload, or set payload = "optional" or "required" in parameterized`,
					"task %q has dispatch_payload but the job's parameterized payload is \"forbidden\"", t.Name)
			}
			switch {
			case strings.TrimSpace(dp.File) == "":
				v.add(dp, "file", tpath, `set file = "input.json" (written under the task's local/ directory)`, "dispatch_payload has no file")
			case !payloadFileInside(dp.File):
				v.add(dp, "file", tpath, `give a path inside the task's local/ directory, e.g. file = "input.json"`,
					"dispatch_payload file %q is outside the task's local/ directory", dp.File)
			}
		}
	}
}

// payloadFileInside reports whether file, taken relative to a task's
// local/ directory, names a file below it.
func payloadFileInside(file string) bool {
	if strings.ContainsRune(file, 0) || strings.Contains(file, "\\") || path.IsAbs(file) {
		return false
	}
	c := path.Clean(file)
	return c != "." && c != ".." && !strings.HasPrefix(c, "../")
}

// DispatchRequestError is a dispatch that the parameterized job's block
// refuses; its text names the problem and what to send instead.
type DispatchRequestError struct{ Msg string }

func (e *DispatchRequestError) Error() string { return e.Msg }

// CheckDispatch checks a dispatch of parent with payload and meta as
// Nomad does: the job is parameterized and not stopped, the payload is at
// most DispatchPayloadSizeLimit and given or left out as the block says,
// every required meta key is given and no key outside meta_required and
// meta_optional is.
func CheckDispatch(parent *Job, payload []byte, meta map[string]string) error {
	refuse := func(format string, args ...any) error {
		return &DispatchRequestError{Msg: fmt.Sprintf(format, args...)}
	}
	p := parent.Parameterized
	switch {
	case p == nil || parent.ParentID != "":
		return refuse("job %q is not a parameterized job: add a parameterized { } block to its job file to dispatch it", parent.ID)
	case parent.Stop:
		return refuse("job %q is stopped: submit it again to dispatch it", parent.ID)
	case len(payload) > DispatchPayloadSizeLimit:
		return refuse("payload is %d bytes, over the limit of %d bytes (16 KiB): send a smaller payload, or put the data where the task can fetch it (an artifact) and pass its location in meta", len(payload), DispatchPayloadSizeLimit)
	case p.Payload == DispatchPayloadForbidden && len(payload) > 0:
		return refuse("job %q does not take a payload (parameterized payload = \"forbidden\"): dispatch it without one", parent.ID)
	case p.Payload == DispatchPayloadRequired && len(payload) == 0:
		return refuse("job %q requires a payload (parameterized payload = \"required\"): give a payload file, or - to read it from stdin", parent.ID)
	}
	var unknown, missing []string
	for k := range meta {
		if !slices.Contains(p.MetaRequired, k) && !slices.Contains(p.MetaOptional, k) {
			unknown = append(unknown, k)
		}
	}
	for _, k := range p.MetaRequired {
		if _, ok := meta[k]; !ok {
			missing = append(missing, k)
		}
	}
	slices.Sort(unknown)
	slices.Sort(missing)
	allowed := append(slices.Clone(p.MetaRequired), p.MetaOptional...)
	slices.Sort(allowed)
	if len(unknown) > 0 {
		known := "none"
		if len(allowed) > 0 {
			known = strings.Join(allowed, ", ")
		}
		return refuse("dispatch of job %q has meta keys the job does not accept: %s (accepted: %s); list them in the job's parameterized meta_required or meta_optional, or leave them out",
			parent.ID, strings.Join(unknown, ", "), known)
	}
	if len(missing) > 0 {
		return refuse("dispatch of job %q lacks required meta keys: %s; give each with -meta KEY=VALUE", parent.ID, strings.Join(missing, ", "))
	}
	return nil
}

// DispatchChild returns the job that a dispatch of parent creates: a copy
// of it named id (<parent>/dispatch-<unix>-<8 hex>, see DispatchID) with
// ParentID and Payload set and meta merged over the job's meta. The copy
// shares parent's (immutable) groups; versions, indexes and status start
// afresh.
func DispatchChild(parent *Job, id string, payload []byte, meta map[string]string) *Job {
	c := *parent
	c.ID, c.Name, c.ParentID = id, id, parent.ID
	c.Payload = slices.Clone(payload)
	if len(c.Payload) == 0 {
		c.Payload = nil
	}
	c.Meta = maps.Clone(parent.Meta)
	if len(meta) > 0 && c.Meta == nil {
		c.Meta = map[string]string{}
	}
	maps.Copy(c.Meta, meta)
	c.Version, c.Stop, c.Stable, c.Status, c.SubmitTime = 0, false, false, "", 0
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	return &c
}

// DispatchID is a dispatched child's ID, as Nomad forms it:
// <parent>/dispatch-<unix seconds>-<first 8 hex digits of a random ID>.
func DispatchID(parentID string, unix int64, random string) string {
	if len(random) > 8 {
		random = random[:8]
	}
	return fmt.Sprintf("%s/dispatch-%d-%s", parentID, unix, random)
}
