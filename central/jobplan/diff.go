package jobplan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

// Diff types, as Nomad's job diff names them.
const (
	DiffAdded   = "Added"
	DiffDeleted = "Deleted"
	DiffEdited  = "Edited"
	DiffNone    = "None"
)

// Diff is what changed between the running version of a job and the
// submitted one: the job, a group, a task or a block inside one of them.
// Fields are named as the job file's JSON names them (snake_case); a
// block's Name is its JSON name, and a named block (service, check, …)
// adds its name: `services "api"`.
type Diff struct {
	Type        string       `json:"type"`
	Name        string       `json:"name"`
	Fields      []*FieldDiff `json:"fields,omitempty"`
	Objects     []*Diff      `json:"objects,omitempty"`
	TaskGroups  []*Diff      `json:"task_groups,omitempty"`
	Tasks       []*Diff      `json:"tasks,omitempty"`
	Annotations []string     `json:"annotations,omitempty"`
}

// FieldDiff is one changed value, rendered as text ("" when absent).
type FieldDiff struct {
	Type string `json:"type"`
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// centralFields are the job fields central sets, never part of a diff.
var centralFields = map[string]bool{
	"Version": true, "Status": true, "SubmitTime": true, "CreateIndex": true, "ModifyIndex": true,
	"JobModifyIndex": true, "Stable": true, "ParentID": true, "Payload": true, "DispatchIdempotencyToken": true,
}

// JobDiff compares two versions of a job (old nil: a new job). It covers
// every field of the job spec: groups and tasks are matched by name,
// named blocks (services, checks, ports) by name, other repeated blocks
// (constraints, templates, artifacts) by their whole value, and a map
// (meta, env, a driver's config) key by key; a list of values is one
// field. Job-level update is left out: the parser copies it into every
// group, where it shows.
func JobDiff(old, new *jobspec.Job) *Diff {
	d := &Diff{Name: new.ID}
	var ov reflect.Value
	if old != nil {
		ov = reflect.ValueOf(old).Elem()
	}
	diffStruct(d, ov, reflect.ValueOf(new).Elem(), true)
	d.Type = objectType(d, old == nil, false)
	return d
}

// objectType is an object's diff type once its contents are known.
func objectType(d *Diff, added, deleted bool) string {
	switch {
	case added:
		return DiffAdded
	case deleted:
		return DiffDeleted
	case len(d.Fields)+len(d.Objects) > 0 || changed(d.TaskGroups) || changed(d.Tasks):
		return DiffEdited
	}
	return DiffNone
}

// changed reports whether any of ds is not DiffNone (unchanged groups and
// tasks stay listed, for their annotations).
func changed(ds []*Diff) bool {
	return slices.ContainsFunc(ds, func(d *Diff) bool { return d.Type != DiffNone })
}

var durationType = reflect.TypeOf(time.Duration(0))

// diffStruct adds to d the differences between two structs of one type;
// either may be invalid (absent).
func diffStruct(d *Diff, ov, nv reflect.Value, job bool) {
	var t reflect.Type
	if ov.IsValid() {
		t = ov.Type()
	} else {
		t = nv.Type()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" || (job && (centralFields[f.Name] || f.Name == "Update")) {
			continue
		}
		o, n := fieldOf(ov, i), fieldOf(nv, i)
		if (!ov.IsValid() && n.IsZero()) || (!nv.IsValid() && o.IsZero()) {
			continue // an added or deleted block lists what it sets
		}
		switch {
		case f.Name == "TaskGroups" && job:
			d.TaskGroups = diffNamed(o, n)
		case f.Name == "Tasks" && !job && t == reflect.TypeOf(jobspec.TaskGroup{}):
			d.Tasks = diffNamed(o, n)
		default:
			diffValue(d, name, f.Type, o, n)
		}
	}
}

func fieldOf(v reflect.Value, i int) reflect.Value {
	if !v.IsValid() {
		return reflect.Value{}
	}
	return v.Field(i)
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch tag {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return tag
}

// diffValue adds the difference of one value of type t to d.
func diffValue(d *Diff, name string, t reflect.Type, o, n reflect.Value) {
	switch {
	case t == durationType || isScalar(t.Kind()):
		addField(d, name, text(o), text(n))
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		o, n = deref(o), deref(n)
		if !o.IsValid() && !n.IsValid() {
			return
		}
		sub := &Diff{Name: name}
		diffStruct(sub, o, n, false)
		if sub.Type = objectType(sub, !o.IsValid(), !n.IsValid()); sub.Type != DiffNone {
			d.Objects = append(d.Objects, sub)
		}
	case t.Kind() == reflect.Pointer:
		diffValue(d, name, t.Elem(), deref(o), deref(n))
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		diffMap(d, name, o, n)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Pointer && t.Elem().Elem().Kind() == reflect.Struct:
		if _, named := t.Elem().Elem().FieldByName("Name"); named {
			d.Objects = append(d.Objects, diffNamedBlocks(name, o, n)...)
		} else {
			d.Objects = append(d.Objects, diffBlocks(name, o, n)...)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		// bytes (a payload): not shown
	default:
		addField(d, name, text(o), text(n))
	}
}

func isScalar(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func deref(v reflect.Value) reflect.Value {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

// text renders a value for a field diff: "" when absent or nil.
func text(v reflect.Value) string {
	v = deref(v)
	if !v.IsValid() {
		return ""
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			return ""
		}
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}

func addField(d *Diff, name, old, new string) {
	if old == new {
		return
	}
	typ := DiffEdited
	switch {
	case old == "":
		typ = DiffAdded
	case new == "":
		typ = DiffDeleted
	}
	d.Fields = append(d.Fields, &FieldDiff{Type: typ, Name: name, Old: old, New: new})
}

// diffMap compares a map key by key: meta["team"], config["command"].
func diffMap(d *Diff, name string, o, n reflect.Value) {
	keys := map[string]bool{}
	for _, m := range []reflect.Value{deref(o), deref(n)} {
		if m.IsValid() {
			for _, k := range m.MapKeys() {
				keys[fmt.Sprint(k.Interface())] = true
			}
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		addField(d, fmt.Sprintf("%s[%s]", name, k), text(mapIndex(o, k)), text(mapIndex(n, k)))
	}
}

func mapIndex(m reflect.Value, k string) reflect.Value {
	m = deref(m)
	if !m.IsValid() {
		return reflect.Value{}
	}
	return m.MapIndex(reflect.ValueOf(k).Convert(m.Type().Key()))
}

// elems returns a slice's non-nil elements.
func elems(v reflect.Value) []reflect.Value {
	v = deref(v)
	if !v.IsValid() {
		return nil
	}
	out := make([]reflect.Value, 0, v.Len())
	for i := range v.Len() {
		if e := deref(v.Index(i)); e.IsValid() {
			out = append(out, e)
		}
	}
	return out
}

// diffNamed matches groups or tasks by name: an added, deleted or edited
// one each, in the new order then the deleted ones.
func diffNamed(o, n reflect.Value) []*Diff {
	olds := elems(o)
	byName := map[string]reflect.Value{}
	for _, e := range olds {
		byName[e.FieldByName("Name").String()] = e
	}
	var out []*Diff
	seen := map[string]bool{}
	for _, e := range elems(n) {
		name := e.FieldByName("Name").String()
		seen[name] = true
		old := byName[name]
		sub := &Diff{Name: name}
		diffStruct(sub, old, e, false)
		sub.Type = objectType(sub, !old.IsValid(), false)
		out = append(out, sub)
	}
	for _, e := range olds {
		if name := e.FieldByName("Name").String(); !seen[name] {
			sub := &Diff{Name: name}
			diffStruct(sub, e, reflect.Value{}, false)
			sub.Type = DiffDeleted
			out = append(out, sub)
		}
	}
	return out
}

// diffNamedBlocks matches repeated blocks that have a name (services,
// checks, ports) by it.
func diffNamedBlocks(name string, o, n reflect.Value) []*Diff {
	var out []*Diff
	olds := elems(o)
	used := make([]bool, len(olds))
	for _, e := range elems(n) {
		key := e.FieldByName("Name").String()
		old := reflect.Value{}
		if i := slices.IndexFunc(olds, func(x reflect.Value) bool { return x.FieldByName("Name").String() == key }); i >= 0 && !used[i] {
			old, used[i] = olds[i], true
		}
		sub := &Diff{Name: blockName(name, key)}
		diffStruct(sub, old, e, false)
		if sub.Type = objectType(sub, !old.IsValid(), false); sub.Type != DiffNone {
			out = append(out, sub)
		}
	}
	for i, e := range olds {
		if !used[i] {
			sub := &Diff{Name: blockName(name, e.FieldByName("Name").String()), Type: DiffDeleted}
			diffStruct(sub, e, reflect.Value{}, false)
			out = append(out, sub)
		}
	}
	return out
}

func blockName(kind, name string) string {
	if name == "" {
		return kind
	}
	return fmt.Sprintf("%s %q", kind, name)
}

// diffBlocks compares repeated blocks without a name (constraints,
// templates, artifacts) by their whole value: those only in the old
// version are deleted, those only in the new one added.
func diffBlocks(name string, o, n reflect.Value) []*Diff {
	count := map[string]int{}
	for _, e := range elems(o) {
		count[text(e)]++
	}
	var added []reflect.Value
	for _, e := range elems(n) {
		if k := text(e); count[k] > 0 {
			count[k]--
		} else {
			added = append(added, e)
		}
	}
	var out []*Diff
	for _, e := range elems(o) {
		if k := text(e); count[k] > 0 {
			count[k]--
			sub := &Diff{Name: name, Type: DiffDeleted}
			diffStruct(sub, e, reflect.Value{}, false)
			out = append(out, sub)
		}
	}
	for _, e := range added {
		sub := &Diff{Name: name, Type: DiffAdded}
		diffStruct(sub, reflect.Value{}, e, false)
		out = append(out, sub)
	}
	return out
}
