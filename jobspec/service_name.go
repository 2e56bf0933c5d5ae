package jobspec

import (
	"fmt"
	"path"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// MaxServiceNameLen is the longest service name (a DNS label, as in Nomad).
const MaxServiceNameLen = 63

// checkServiceName returns what is wrong with a service name and the fix,
// or "" when it is valid. A name is one MQTT topic level (it is published
// on <prefix>/svc/<name>) and a DNS label as Nomad requires: letters,
// digits and dashes, not starting or ending with a dash, at most 63 bytes.
// Names with ${...} interpolation are resolved by the agent; only their
// literal parts are checked here and central checks the result.
func checkServiceName(name string) (summary, fix string) {
	const dnsFix = `use letters, digits and dashes, e.g. name = "web-api"`
	literal := name
	interpolated := strings.Contains(name, "${")
	if interpolated {
		literal = stripInterpolation(name)
	}
	switch {
	case name == "":
		return "service has no name", `set name = "web-api"`
	case strings.ContainsAny(literal, "+#/"):
		return fmt.Sprintf("service name %q cannot be used in an MQTT topic: it contains '+', '#' or '/'", name), dnsFix
	case !protocol.ValidID(literal) && literal != "":
		return fmt.Sprintf("service name %q cannot be used in an MQTT topic: it has control characters or is over 128 bytes", name), dnsFix
	case interpolated:
		return "", ""
	case len(name) > MaxServiceNameLen:
		return fmt.Sprintf("service name %q is %d bytes, over the limit of %d", name, len(name), MaxServiceNameLen), "shorten the name (it is a DNS label)"
	case !dnsLabel(name):
		return fmt.Sprintf("service name %q is not a valid DNS label", name), dnsFix
	}
	return "", ""
}

// dnsLabel reports whether s is letters, digits and dashes, with no dash
// at either end.
func dnsLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// stripInterpolation removes ${...} sequences from s.
func stripInterpolation(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return b.String()
		}
		s = s[i+j+1:]
	}
}

// localPath reports whether p is a relative path that stays inside the
// directory it is resolved against.
func localPath(p string) bool {
	if path.IsAbs(p) || strings.HasPrefix(p, "\\") {
		return false
	}
	c := path.Clean(p)
	return c != ".." && !strings.HasPrefix(c, "../")
}
