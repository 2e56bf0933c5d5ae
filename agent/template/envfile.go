package template

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseEnv reads the KEY=VALUE lines of an env = true template's output.
// Blank lines and lines starting with # are skipped; "export " before a
// key is allowed; a value in double quotes is unquoted with Go's rules (so
// "\n" is a newline), one in single quotes is taken as written. name is
// the template's destination, for errors.
func ParseEnv(name string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !validKey(k) {
			return nil, fmt.Errorf("%w: env template %s line %d: %q is not KEY=VALUE", ErrRender, name, i+1, line)
		}
		v = strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil, fmt.Errorf("%w: env template %s line %d: value of %s: %v", ErrRender, name, i+1, k, err)
			}
			v = u
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	return out, nil
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9', c == '.', c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
