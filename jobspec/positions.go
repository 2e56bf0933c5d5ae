package jobspec

import "github.com/hashicorp/hcl/v2"

// posKey names one field of one decoded object: (pointer, "driver").
// The empty field names the object's block.
type posKey struct {
	obj   any
	field string
}

// positions remembers where in the file each decoded object and field came
// from, so Validate's errors can carry file:line. A job that arrived as JSON
// has none.
type positions map[posKey]hcl.Range

func (p positions) set(obj any, field string, r hcl.Range) {
	if p != nil {
		p[posKey{obj, field}] = r
	}
}

// get returns the field's range, else its object's block range.
func (p positions) get(obj any, field string) (hcl.Range, bool) {
	if p == nil {
		return hcl.Range{}, false
	}
	if r, ok := p[posKey{obj, field}]; ok {
		return r, true
	}
	r, ok := p[posKey{obj, ""}]
	return r, ok
}
