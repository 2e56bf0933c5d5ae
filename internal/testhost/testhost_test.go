package testhost

import (
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
