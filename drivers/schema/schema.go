package schema

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tether-edge/tether/drivers"
)

// ErrUnknownDriver is returned by Check for a driver this package does not
// know; job validation reports unknown drivers itself.
var ErrUnknownDriver = errors.New("schema: unknown driver")

// Error is one problem in a config block. Key names the config key it is
// about ("" for the block as a whole), so a job file's error can point at
// the key's line.
type Error struct {
	Driver string
	Key    string
	Msg    string // what is wrong, naming the key
	Fix    string // what to write instead; may be ""
}

// Error renders "podman driver: config key "port_map" is not supported; fix".
func (e *Error) Error() string { return e.Driver + " driver: " + e.Detail() }

// Detail is the error without the driver's name: the message and the fix.
func (e *Error) Detail() string {
	if e.Fix == "" {
		return e.Msg
	}
	return e.Msg + "; " + e.Fix
}

// Check decodes cfg as driver's config block would be decoded on the
// agent, with ports the labels of the group's network ports, and returns
// the first problem as an *Error. Strings that still hold ${...} are
// taken as unresolved: only their type is checked.
func Check(driver string, cfg map[string]any, ports []string) error {
	r := reader{driver: driver, cfg: cfg, submit: true}
	var err error
	switch driver {
	case "exec":
		_, err = parseExec(r)
	case "podman":
		_, err = parsePodman(r, ports)
	case "wasm":
		_, err = parseWasm(r)
	default:
		return fmt.Errorf("%w %q", ErrUnknownDriver, driver)
	}
	return err
}

// reader reads one config block for one driver.
type reader struct {
	driver string
	cfg    map[string]any
	submit bool // at submit: ${...} is not resolved yet
}

func (r reader) errf(key, fix, format string, args ...any) *Error {
	return &Error{Driver: r.driver, Key: key, Msg: fmt.Sprintf(format, args...), Fix: fix}
}

// wrap turns an error of the drivers.Config* helpers (which name the key
// and the expected shape) into an *Error about key.
func (r reader) wrap(key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Driver: r.driver, Key: key, Msg: err.Error()}
}

// pending says whether v is a string whose ${...} is not resolved yet.
func (r reader) pending(v any) bool {
	s, ok := v.(string)
	return r.submit && ok && strings.Contains(s, "${")
}

// pendingKey is pending for the value of key.
func (r reader) pendingKey(key string) bool { return r.pending(r.cfg[key]) }

// keys refuses any key not in known: a Docker key gets what to write
// instead (refusedKeys), anything else the known list and a guess.
func (r reader) keys(known []string, refused map[string]string) error {
	var unknown []string
	for k := range r.cfg {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	k := unknown[0]
	if fix, ok := refused[k]; ok {
		return r.errf(k, fix, "config key %q is not supported", k)
	}
	sorted := slices.Clone(known)
	sort.Strings(sorted)
	fix := ""
	if s := closest(k, sorted); s != "" {
		fix = fmt.Sprintf("did you mean %q?", s)
	}
	return r.errf(k, fix, "unknown config key %q (known: %s)", k, strings.Join(sorted, ", "))
}

// str, strs and boolean read a key with the drivers' lenient helpers.
func (r reader) str(key string) (string, bool, error) {
	s, ok, err := drivers.ConfigString(r.cfg, key)
	return s, ok, r.wrap(key, err)
}

func (r reader) strs(key string) ([]string, bool, error) {
	s, ok, err := drivers.ConfigStrings(r.cfg, key)
	return s, ok, r.wrap(key, err)
}

func (r reader) boolean(key string) (bool, error) {
	if r.pendingKey(key) {
		return false, nil
	}
	b, _, err := drivers.ConfigBool(r.cfg, key)
	return b, r.wrap(key, err)
}

// closest is the known name at edit distance 1 or 2 from s, or "".
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
