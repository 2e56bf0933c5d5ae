package testhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An exception is appended to the summary file with its name and the test.
func TestExceptionRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exceptions")
	t.Setenv(EnvFile, path)
	Known["test-only"] = "a test of the recorder"
	defer delete(Known, "test-only")
	t.Run("inner", func(t *testing.T) { Exception(t, "test-only", "detail") })
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.HasPrefix(got, "test-only\tTestExceptionRecorded/inner\ta test of the recorder: detail") {
		t.Fatalf("recorded %q", got)
	}
}

// fakeTB records what Require asks of a test; Fatalf and Skipf end the
// call as the real ones end the test (see require).
type fakeTB struct {
	testing.TB
	fatal, skip string
}

type ended struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	panic(ended{})
}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.skip = fmt.Sprintf(format, a...)
	panic(ended{})
}

// require runs Require on a fakeTB and returns what it recorded.
func require(t *testing.T, ok bool) (f *fakeTB) {
	f = &fakeTB{TB: t}
	defer func() {
		if r := recover(); r != nil && r != (ended{}) {
			panic(r)
		}
	}()
	Require(f, ok, "bash", "apt-get install bash")
	return f
}

// Require passes what is there; what is missing fails the test under
// CI=true and skips it elsewhere, naming the thing and the fix either way.
func TestRequire(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		if f := require(t, true); f.fatal != "" || f.skip != "" {
			t.Errorf("CI=%q, present: fatal %q, skip %q", ci, f.fatal, f.skip)
		}
		f := require(t, false)
		got, other := f.skip, f.fatal
		if ci == "true" {
			got, other = f.fatal, f.skip
		}
		if !strings.Contains(got, "bash") || !strings.Contains(got, "apt-get install bash") || other != "" {
			t.Errorf("CI=%q, missing: fatal %q, skip %q", ci, f.fatal, f.skip)
		}
	}
}
