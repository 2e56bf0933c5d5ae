package upgrade

import (
	"fmt"
	"runtime"
	"runtime/debug"

	goversion "github.com/hashicorp/go-version"

	"github.com/tether-edge/tether/protocol"
)

// CheckVersion says whether an agent running version running may install
// target. Versions compare as semantic versions (hashicorp/go-version:
// 1.10.0 is newer than 1.9.3, 1.2.0-rc1 older than 1.2.0). An older
// target is refused unless allowDowngrade. A running version that is not
// a version (a development build, "dev") is older than every release. A
// target that is not a version cannot be compared: it is refused unless
// allowDowngrade. The same version is not an upgrade (the caller skips it).
func CheckVersion(running, target string, allowDowngrade bool) error {
	tv, terr := goversion.NewVersion(target)
	rv, rerr := goversion.NewVersion(running)
	switch {
	case allowDowngrade:
		return nil
	case terr != nil:
		return fmt.Errorf("%w: version %q is not a version like 1.4.2 and cannot be compared with %q (allow a downgrade to install it anyway)", ErrRefused, target, running)
	case rerr != nil:
		return nil // a development build takes any release
	case tv.LessThan(rv):
		return fmt.Errorf("%w: version %s is older than the running %s (start the rollout with -allow-downgrade to install it)", ErrRefused, target, running)
	}
	return nil
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
