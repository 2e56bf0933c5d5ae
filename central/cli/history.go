package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

func historyVerbs() map[string]verb {
	return map[string]verb{
		"job history": {"Show the versions of a job (-p: what changed in each)", "[options] JOB", (*env).jobHistory},
		"job revert":  {"Register an older version of a job again, as its newest version", "[options] JOB VERSION", (*env).jobRevert},
	}
}

// versionsResponse mirrors GET /v1/job/<id>/versions.
type versionsResponse struct {
	Versions []*jobspec.Job `json:"versions"`
}

func (e *env) jobHistory(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	e.readFlags(fs)
	diff := fs.Bool("p", false, "show what changed in each version since the one before it")
	only := fs.Int64("version", -1, "show only this version")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	var resp versionsResponse
	b, _, err := e.get(ctx, "/v1/job/"+url.PathEscape(job.ID)+"/versions", e.nsQuery(), &resp)
	if err != nil {
		return e.fail("querying job versions", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	shown := 0
	for i, v := range resp.Versions { // newest first
		if *only >= 0 && v.Version != uint64(*only) {
			continue
		}
		if shown > 0 {
			fmt.Fprintln(e.stdout)
		}
		shown++
		kv(e.stdout, [][2]string{
			{"Version", strconv.FormatUint(v.Version, 10)},
			{"Stable", strconv.FormatBool(v.Stable)},
			{"Stop", strconv.FormatBool(v.Stop)},
			{"Submit Date", formatUnixNano(v.SubmitTime)},
		})
		if !*diff {
			continue
		}
		if i+1 == len(resp.Versions) {
			fmt.Fprintln(e.stdout, "Diff        = <oldest kept version: nothing to compare with>")
			continue
		}
		prev := resp.Versions[i+1]
		lines := diffJobs(prev, v)
		if len(lines) == 0 {
			fmt.Fprintf(e.stdout, "Diff        = <no change since version %d>\n", prev.Version)
			continue
		}
		fmt.Fprintf(e.stdout, "Diff        = since version %d\n", prev.Version)
		for _, l := range lines {
			fmt.Fprintf(e.stdout, "  %s\n", l)
		}
	}
	if *only >= 0 && shown == 0 {
		fmt.Fprintf(e.stderr, "Error: job %q has no version %d (see central job history %s)\n", job.ID, *only, job.ID)
		return exitError
	}
	return exitOK
}

func (e *env) jobRevert(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	detach := fs.Bool("detach", false, "return after reverting, without monitoring the evaluation and deployment")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to monitor the evaluation before giving up")
	deployTimeout := fs.Duration("deployment-timeout", 0, "how long to monitor the deployment before giving up (0: until it ends)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 2, 2) {
		return exitUsage
	}
	version, err := strconv.ParseUint(fs.Arg(1), 10, 64)
	if err != nil {
		return e.usageFail("in VERSION", fmt.Errorf("%q is not a version number: give one of the versions `central job history %s` lists", fs.Arg(1), fs.Arg(0)))
	}
	ctx, cancel := e.ctx()
	defer cancel()
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(job.ID)+"/revert", e.nsQuery(), map[string]any{"job_version": version})
	if err != nil {
		return e.fail("reverting job", err)
	}
	var resp submitResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("reverting job", fmt.Errorf("decoding response: %w", err))
	}
	if *detach {
		fmt.Fprintf(e.stdout, "Job %q reverted to version %d\nEvaluation ID: %s\n", job.ID, version, resp.EvalID)
		return exitOK
	}
	return e.monitorRollout(resp, *timeout, *deployTimeout)
}

// diffJobs lists what changed from job a to job b, one line per changed
// setting: "+ path: value", "- path: value" or "~ path: old => new".
// Fields central sets (version, times, indexes, status, stable) are left
// out.
func diffJobs(a, b *jobspec.Job) []string {
	fa, fb := flattenJob(a), flattenJob(b)
	inA := make(map[string]string, len(fa))
	for _, f := range fa {
		inA[f.path] = f.value
	}
	inB := make(map[string]bool, len(fb))
	for _, f := range fb {
		inB[f.path] = true
	}
	var out []string
	i := 0
	removedUpTo := func(path string) { // a's removed settings that come before path in a
		for i < len(fa) && fa[i].path != path {
			if !inB[fa[i].path] {
				out = append(out, "- "+fa[i].path+": "+fa[i].value)
			}
			i++
		}
		if i < len(fa) {
			i++
		}
	}
	for _, f := range fb {
		old, ok := inA[f.path]
		switch {
		case !ok:
			for i < len(fa) && !inB[fa[i].path] { // what b drops here comes first
				out = append(out, "- "+fa[i].path+": "+fa[i].value)
				i++
			}
			out = append(out, "+ "+f.path+": "+f.value)
		case old != f.value:
			removedUpTo(f.path)
			out = append(out, "~ "+f.path+": "+old+" => "+f.value)
		default:
			removedUpTo(f.path)
		}
	}
	removedUpTo("\x00") // the rest
	return out
}

// setting is one leaf of a job rendered as JSON: a path such as
// task_groups["web"].tasks["server"].config.args and its JSON value.
type setting struct{ path, value string }

// flattenJob renders the spec of j as settings, in the order of its JSON
// rendering (struct order; map keys sorted). Lists of named objects
// (groups, tasks, services, ports...) are keyed by name, so inserting a
// task shows as one added task, not as every later task changed; lists
// of plain values are one setting. Empty values are left out, so null,
// [] and {} are the same absence.
func flattenJob(j *jobspec.Job) []setting {
	c := *j
	c.Version, c.Status, c.SubmitTime, c.Stable = 0, "", 0, false
	c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
	b, err := json.Marshal(&c)
	if err != nil {
		return []setting{{path: "job", value: "<cannot render: " + err.Error() + ">"}}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return []setting{{path: "job", value: "<cannot render: " + err.Error() + ">"}}
	}
	var out []setting
	flattenValue("", v, &out)
	for k := range out {
		out[k].path = strings.TrimPrefix(out[k].path, ".")
		if jobDurations[shape(out[k].path)] {
			if ns, err := strconv.ParseInt(out[k].value, 10, 64); err == nil {
				out[k].value = time.Duration(ns).String()
			}
		}
	}
	return out
}

// jobDurations holds the shapes (see shape) of the job's time.Duration
// fields, which JSON renders as nanoseconds: the diff shows them as
// durations.
var jobDurations = durationShapes(reflect.TypeFor[jobspec.Job](), "", map[string]bool{}, map[reflect.Type]bool{})

func durationShapes(t reflect.Type, prefix string, out map[string]bool, seen map[reflect.Type]bool) map[string]bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return out
	}
	seen[t] = true
	defer delete(seen, t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft == reflect.TypeFor[time.Duration]() {
			out[prefix+name] = true
			continue
		}
		durationShapes(f.Type, prefix+name+".", out, seen)
	}
	return out
}

// shape is a setting's path without its list keys:
// task_groups["web"].update.min_healthy_time → task_groups.update.min_healthy_time.
func shape(path string) string {
	var b strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"' && depth > 0:
			inQuote = !inQuote
		case inQuote:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// orderedObject is a JSON object with its keys in document order.
type orderedObject struct {
	keys []string
	vals map[string]any
}

// decodeOrdered reads one JSON value, keeping object key order.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &orderedObject{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				o.keys = append(o.keys, k)
				o.vals[k] = v
			}
			_, err := dec.Token() // '}'
			return o, err
		case '[':
			var l []any
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token() // ']'
			return l, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

func flattenValue(path string, v any, out *[]setting) {
	switch t := v.(type) {
	case nil:
	case *orderedObject:
		for _, k := range t.keys {
			flattenValue(path+"."+k, t.vals[k], out)
		}
	case []any:
		if len(t) == 0 {
			return
		}
		if names, ok := elementNames(t); ok {
			for i, el := range t {
				flattenValue(path+"["+strconv.Quote(names[i])+"]", el, out)
			}
			return
		}
		if _, nested := t[0].(*orderedObject); nested {
			for i, el := range t {
				flattenValue(path+"["+strconv.Itoa(i)+"]", el, out)
			}
			return
		}
		*out = append(*out, setting{path: path, value: renderJSON(t)})
	case string:
		if t != "" {
			*out = append(*out, setting{path: path, value: strconv.Quote(t)})
		}
	default:
		*out = append(*out, setting{path: path, value: fmt.Sprint(t)})
	}
}

// elementNames returns the "name" (or "label") of each object in l when
// every element has a distinct one.
func elementNames(l []any) ([]string, bool) {
	names := make([]string, len(l))
	seen := make(map[string]bool, len(l))
	for i, el := range l {
		o, ok := el.(*orderedObject)
		if !ok {
			return nil, false
		}
		n, _ := o.vals["name"].(string)
		if n == "" {
			n, _ = o.vals["label"].(string)
		}
		if n == "" || seen[n] {
			return nil, false
		}
		names[i], seen[n] = n, true
	}
	return names, true
}

// renderJSON renders a list of plain values on one line.
func renderJSON(l []any) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		switch t := v.(type) {
		case string:
			b.WriteString(strconv.Quote(t))
		case *orderedObject, []any:
			var inner []setting
			flattenValue("", t, &inner)
			b.WriteString("{")
			for k, s := range inner {
				if k > 0 {
					b.WriteString(", ")
				}
				io.WriteString(&b, strings.TrimPrefix(s.path, ".")+": "+s.value)
			}
			b.WriteString("}")
		default:
			fmt.Fprint(&b, t)
		}
	}
	b.WriteByte(']')
	return b.String()
}
