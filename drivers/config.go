package drivers

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The helpers below read a task's driver config block (TaskConfig.Config)
// leniently: job files reach the agent through HCL, JSON and CBOR, so a
// number may arrive as int64, uint64 or float64 and a list as []any. Each
// returns ok=false when the key is absent (or nil) and an error that names
// the key and shows the expected shape when the value has the wrong type.

// CheckConfigKeys returns an error naming the first key of cfg that is not in
// known, with the list of known keys, so a typo like "comand" is caught at
// start instead of being silently ignored.
func CheckConfigKeys(driver string, cfg map[string]any, known ...string) error {
	var unknown []string
	for k := range cfg {
		found := false
		for _, kk := range known {
			if k == kk {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return fmt.Errorf("%s driver: unknown config key %q (known: %s)", driver, unknown[0], strings.Join(sorted, ", "))
}

// ConfigString reads a string. Numbers and booleans are formatted as text.
func ConfigString(cfg map[string]any, key string) (string, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return "", false, nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", true, fmt.Errorf("config key %q must be a string (got %s), e.g. %s = \"value\"", key, typeName(v), key)
	}
	return s, true, nil
}

// ConfigStrings reads a list of strings; its elements may be numbers or
// booleans, which are formatted as text.
func ConfigStrings(cfg map[string]any, key string) ([]string, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return nil, false, nil
	}
	bad := fmt.Errorf("config key %q must be a list of strings (got %s), e.g. %s = [\"-v\", \"file\"]", key, typeName(v), key)
	switch l := v.(type) {
	case []string:
		return append([]string(nil), l...), true, nil
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := scalarString(e)
			if !ok {
				return nil, true, fmt.Errorf("config key %q: element %d must be a string (got %s)", key, i, typeName(e))
			}
			out = append(out, s)
		}
		return out, true, nil
	default:
		return nil, true, bad
	}
}

// ConfigInt reads a whole number; a float must have no fractional part and a
// string must parse as a decimal integer.
func ConfigInt(cfg map[string]any, key string) (int64, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	bad := fmt.Errorf("config key %q must be a whole number (got %s), e.g. %s = 3", key, describe(v), key)
	switch n := v.(type) {
	case int:
		return int64(n), true, nil
	case int32:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	case uint32:
		return int64(n), true, nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, true, bad
		}
		return int64(n), true, nil
	case float32:
		return floatInt(float64(n), bad)
	case float64:
		return floatInt(n, bad)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, true, bad
		}
		return i, true, nil
	default:
		return 0, true, bad
	}
}

func floatInt(f float64, bad error) (int64, bool, error) {
	if f != math.Trunc(f) || f > math.MaxInt64 || f < math.MinInt64 || math.IsNaN(f) {
		return 0, true, bad
	}
	return int64(f), true, nil
}

// ConfigBool reads a boolean; the strings "true" and "false" are accepted.
func ConfigBool(cfg map[string]any, key string) (bool, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return false, false, nil
	}
	switch b := v.(type) {
	case bool:
		return b, true, nil
	case string:
		if p, err := strconv.ParseBool(b); err == nil {
			return p, true, nil
		}
	}
	return false, true, fmt.Errorf("config key %q must be true or false (got %s)", key, describe(v))
}

// ConfigDuration reads a duration: a string such as "1.5s" or "200ms", or a
// number of seconds.
func ConfigDuration(cfg map[string]any, key string) (time.Duration, bool, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	bad := fmt.Errorf("config key %q must be a duration such as \"1.5s\" or a number of seconds (got %s)", key, describe(v))
	switch d := v.(type) {
	case time.Duration:
		return d, true, nil
	case string:
		p, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return 0, true, bad
		}
		return p, true, nil
	case float64:
		if math.IsNaN(d) || math.IsInf(d, 0) || math.Abs(d) > math.MaxInt64/float64(time.Second) {
			return 0, true, bad
		}
		return time.Duration(d * float64(time.Second)), true, nil
	}
	n, ok, err := ConfigInt(cfg, key)
	if err != nil {
		return 0, true, bad
	}
	if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
		return 0, true, bad
	}
	return time.Duration(n) * time.Second, ok, nil
}

func scalarString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case bool:
		return strconv.FormatBool(s), true
	case int:
		return strconv.Itoa(s), true
	case int64:
		return strconv.FormatInt(s, 10), true
	case uint64:
		return strconv.FormatUint(s, 10), true
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(s), 'f', -1, 32), true
	}
	return "", false
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "a map"
	case bool:
		return "a boolean"
	case int, int32, int64, uint32, uint64, float32, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func describe(v any) string {
	if s, ok := scalarString(v); ok {
		return fmt.Sprintf("%s %q", typeName(v), s)
	}
	return typeName(v)
}
