package jobspec

import (
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// ctyToGo turns a value into plain Go data for a driver's config: strings,
// int64 for whole numbers, float64 otherwise, bools, []any and map[string]any.
func ctyToGo(v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i
			}
		}
		f, _ := bf.Float64()
		return f
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyToGo(e))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = ctyToGo(e)
		}
		return out
	}
	return nil
}

// bodyToMap decodes a free-form body (a task's config) into a map.
// Attributes become values; a nested block type used once becomes a map,
// used several times a list of maps; a labelled block is keyed by its labels.
func (d *decoder) bodyToMap(body *hclsyntax.Body) map[string]any {
	out := make(map[string]any, len(body.Attributes)+len(body.Blocks))
	for name, a := range body.Attributes {
		if v, ok := d.eval(a); ok {
			out[name] = ctyToGo(v)
		}
	}
	byType := map[string][]any{}
	first := map[string]*hclsyntax.Block{}
	var order []string
	for _, b := range body.Blocks {
		var m any = d.bodyToMap(b.Body)
		for i := len(b.Labels) - 1; i >= 0; i-- {
			m = map[string]any{b.Labels[i]: m}
		}
		if _, seen := byType[b.Type]; !seen {
			order = append(order, b.Type)
			first[b.Type] = b
		}
		byType[b.Type] = append(byType[b.Type], m)
	}
	sort.Strings(order)
	for _, typ := range order {
		if _, clash := out[typ]; clash {
			d.errorf(first[typ].TypeRange, "use either the attribute or the block", "config: %q is set both as an attribute and as a block", typ)
			continue
		}
		if bs := byType[typ]; len(bs) == 1 {
			out[typ] = bs[0]
		} else {
			out[typ] = bs
		}
	}
	return out
}
