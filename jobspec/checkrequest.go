package jobspec

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checkMethods are the methods an http check may send.
var checkMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// checkHeader decodes a check's header { Name = ["value", ...] } block, as
// Nomad writes it: each attribute a header name and its list of values.
func (d *decoder) checkHeader(b *hclsyntax.Block) map[string][]string {
	if !d.labels(b, 0, `header { Authorization = ["Basic ..."] }`) {
		return nil
	}
	for _, nb := range b.Body.Blocks {
		d.errorf(nb.TypeRange, fmt.Sprintf(`write %s = ["value"]`, nb.Type), "check header holds only Name = [\"value\", ...] pairs, found block %q", nb.Type)
	}
	c := content{attrs: b.Body.Attributes}
	out := map[string][]string{}
	for name, a := range b.Body.Attributes {
		vs, ok := d.strList(c, name)
		if !ok {
			continue
		}
		if problem, fix := checkHeaderField(name, vs); problem != "" {
			d.errorf(a.NameRange, fix, "check header %q: %s", name, problem)
			continue
		}
		out[name] = vs
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// checkHeaderField returns what is wrong with a header and its values, and
// the fix, or "".
func checkHeaderField(name string, values []string) (problem, fix string) {
	const nameFix = "name the header with letters, digits, '-' and '_'"
	if name == "" {
		return "empty name", nameFix
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Sprintf("name has the character %q", r), nameFix
		}
	}
	for _, v := range values {
		if strings.ContainsAny(v, "\r\n\x00") {
			return "a value has a line break or NUL", "write each value on one line; give several values as a list"
		}
	}
	return "", ""
}

// checkRequest validates an http check's method, header and body.
func (v *validator) checkRequest(c *Check, path string) {
	if c.Method != "" && !slices.Contains(checkMethods, c.Method) {
		v.add(c, "method", path, oneOf(checkMethods), "check method %q is not an HTTP method Tether sends", c.Method)
	}
	if c.Type != "http" && (c.Method != "" || c.Body != "" || len(c.Header) > 0) {
		field := "method"
		if c.Method == "" {
			field = "body"
			if c.Body == "" {
				field = "header"
			}
		}
		v.add(c, field, path, "remove method, header and body, or use type = \"http\"", "check method, header and body apply only to http checks, not %q", c.Type)
	}
	for name, vs := range c.Header { // a job that came as JSON skipped the decoder
		if problem, fix := checkHeaderField(name, vs); problem != "" {
			v.add(c, "header", path, fix, "check header %q: %s", name, problem)
		}
	}
}
