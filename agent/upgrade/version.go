package upgrade

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/protocol"
)

// CheckVersion says whether an agent running version running may install
// target. Versions compare as hashicorp/go-version compares them (1.10.0
// is newer than 1.9.3, 1.2.0-rc1 older than 1.2.0; build metadata after
// "+" is ignored): compareVersions does that for versions written
// v?N(.N)*(-PRE)?(+META)?, without the library, whose regexp costs the
// agent binary about 250 KB (a test checks both agree). An older target
// is refused unless allowDowngrade. A running version that is not a
// version (a development build, "dev") is older than every release. A
// target that is not a version cannot be compared: it is refused unless
// allowDowngrade. The same version is not an upgrade (the caller skips
// it).
func CheckVersion(running, target string, allowDowngrade bool) error {
	tv, tok := parseVersion(target)
	rv, rok := parseVersion(running)
	switch {
	case allowDowngrade:
		return nil
	case !tok:
		return fmt.Errorf("%w: version %q is not a version like 1.4.2 and cannot be compared with %q (allow a downgrade to install it anyway)", ErrRefused, target, running)
	case !rok:
		return nil // a development build takes any release
	case compareVersions(tv, rv) < 0:
		return fmt.Errorf("%w: version %s is older than the running %s (start the rollout with -allow-downgrade to install it)", ErrRefused, target, running)
	}
	return nil
}

// version is a parsed version: numeric segments and the pre-release.
type version struct {
	segments []uint64
	pre      string
}

// parseVersion reads v?N(.N)*(-PRE)?(+META)?, PRE and META being
// dot-separated runs of [0-9A-Za-z-~].
func parseVersion(s string) (version, bool) {
	s = strings.TrimPrefix(s, "v")
	s, meta, hasMeta := strings.Cut(s, "+")
	if hasMeta && !identifiers(meta) {
		return version{}, false
	}
	nums, pre, hasPre := strings.Cut(s, "-")
	if hasPre && !identifiers(pre) {
		return version{}, false
	}
	var v version
	for _, seg := range strings.Split(nums, ".") {
		n, err := strconv.ParseUint(seg, 10, 63)
		if err != nil || seg == "" || seg[0] == '+' {
			return version{}, false
		}
		v.segments = append(v.segments, n)
	}
	v.pre = pre
	return v, true
}

// identifiers reports whether s is dot-separated non-empty runs of
// [0-9A-Za-z-~].
func identifiers(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '~') {
				return false
			}
		}
	}
	return true
}

// compareVersions returns -1, 0 or 1 as a is older, the same or newer
// than b: segments as numbers (missing ones are 0), then a version without
// a pre-release is newer than one with, then the pre-releases part by part.
func compareVersions(a, b version) int {
	for i := range max(len(a.segments), len(b.segments)) {
		var x, y uint64
		if i < len(a.segments) {
			x = a.segments[i]
		}
		if i < len(b.segments) {
			y = b.segments[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	ap, bp := strings.Split(a.pre, "."), strings.Split(b.pre, ".")
	for i := range max(len(ap), len(bp)) {
		var x, y string
		if i < len(ap) {
			x = ap[i]
		}
		if i < len(bp) {
			y = bp[i]
		}
		if c := comparePart(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// comparePart compares two pre-release parts: numbers as numbers and
// below words, words as strings; a missing part is below a number and
// above a word (as hashicorp/go-version has it).
func comparePart(x, y string) int {
	if x == y {
		return 0
	}
	xn, xerr := strconv.ParseInt(x, 10, 64)
	yn, yerr := strconv.ParseInt(y, 10, 64)
	xnum, ynum := xerr == nil, yerr == nil
	switch {
	case x == "":
		if ynum {
			return -1
		}
		return 1
	case y == "":
		if xnum {
			return 1
		}
		return -1
	case xnum && !ynum:
		return -1
	case !xnum && ynum:
		return 1
	case !xnum && !ynum:
		if x > y {
			return 1
		}
		return -1
	case xn > yn:
		return 1
	}
	return -1 // as hashicorp/go-version: "01" is below "1"
}

// Target is the build target of the running agent as protocol.Targets
// name it ("linux/armv6"), or "" when it cannot tell the ARM version.
func Target() string {
	if runtime.GOARCH != "arm" {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "GOARM" && s.Value != "" {
			return runtime.GOOS + "/armv" + s.Value[:1] // "6", or "7,softfloat"
		}
	}
	return ""
}

// CheckTarget refuses an upgrade built for another target than ours.
func CheckTarget(u *protocol.AgentUpgrade) error {
	if own := Target(); u.Target != own {
		return fmt.Errorf("%w: release %s is built for %s, this agent is %s", ErrRefused, u.Version, u.Target, own)
	}
	return nil
}
