package testhost

import (
	"fmt"
	"os"
	"testing"
)

// EnvFile names the file exceptions are appended to (set by `make test`).
const EnvFile = "TETHER_TEST_EXCEPTIONS"

// Known lists every exception a test may take, with why no CI host can be
// made to run it. Adding one here is a decision a reviewer sees.
var Known = map[string]string{
	"podman-oom-flag": "Podman 4.3 with runc on hybrid cgroups enforces the memory limit (exit 137) but never sets State.OOMKilled; the driver reports what Podman says",
}

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Require fails t under CI=true, and skips it elsewhere, unless ok. what
// names the missing thing and fix how to get it ("apt-get install bash").
func Require(t testing.TB, ok bool, what, fix string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("%s is required under CI=true (%s)", what, fix)
	}
	t.Skipf("needs %s (%s)", what, fix)
}

// Exception skips t with the named host exception and records it for the
// summary that `make test` prints. A name not in Known fails t.
func Exception(t testing.TB, name, detail string) {
	t.Helper()
	why, ok := Known[name]
	if !ok {
		t.Fatalf("BUG: test exception %q is not listed in testhost.Known", name)
	}
	line := fmt.Sprintf("%s\t%s\t%s: %s\n", name, t.Name(), why, detail)
	if path := os.Getenv(EnvFile); path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatalf("record test exception in %s: %v", path, err)
		}
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("record test exception in %s: %v", path, err)
		}
	}
	t.Skipf("HOST EXCEPTION %s: %s (%s)", name, why, detail)
}
