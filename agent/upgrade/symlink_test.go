package upgrade

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const envPrintExecutable = "TETHER_TEST_PRINT_EXECUTABLE"

// An agent started through the boards' convenience link
// (/usr/local/bin/agent -> ../lib/tether-agent/agent) upgrades the real
// binary, in its own directory (the only one its unit lets it write): the
// link is left as it is and nothing is written beside it.
func TestUpgradeThroughLinkWritesBesideRealBinary(t *testing.T) {
	if os.Getenv(envPrintExecutable) == "1" {
		exe, err := Executable()
		if err != nil {
			fmt.Print("error: ", err)
			os.Exit(1)
		}
		fmt.Print(exe)
		os.Exit(0)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(root, "usr/local/lib/tether-agent/agent")
	link := filepath.Join(root, "usr/local/bin/agent")
	for _, d := range []string{filepath.Dir(real), filepath.Dir(link)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyTestFile(t, self, real)
	if err := os.Symlink("../lib/tether-agent/agent", link); err != nil {
		t.Fatal(err)
	}

	// Started by the link's name, as a shell or an old unit would.
	cmd := exec.Command(link, "-test.run=^TestUpgradeThroughLinkWritesBesideRealBinary$")
	cmd.Env = append(os.Environ(), envPrintExecutable+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("agent started through the link: %v\n%s", err, out)
	}
	exe := strings.TrimSpace(string(out))
	if exe != real {
		t.Fatalf("Executable() = %q through the link, want the real binary %s", exe, real)
	}

	src := filepath.Join(t.TempDir(), "new")
	os.WriteFile(src, []byte("new agent"), 0o600)
	sum := sha256.Sum256([]byte("new agent"))
	prev, err := Install(src, exe, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if prev != real+PrevSuffix {
		t.Errorf("previous binary at %s, want %s", prev, real+PrevSuffix)
	}
	if l, err := os.Readlink(link); err != nil || l != "../lib/tether-agent/agent" {
		t.Errorf("the link now points to %q (%v)", l, err)
	}
	if got, _ := os.ReadFile(link); string(got) != "new agent" {
		t.Errorf("the link leads to %d bytes, not the new binary", len(got))
	}
	ents, _ := os.ReadDir(filepath.Dir(link))
	if len(ents) != 1 {
		t.Errorf("the upgrade wrote beside the link: %v", ents)
	}
}

// An agent that cannot write its directory (an old device whose unit has
// no ReadWritePaths) is told to give the agent a directory of its own, not
// to open a shared one such as /usr/local/bin to its tasks.
func TestNotWritableNamesTheAgentsOwnDirectory(t *testing.T) {
	src := filepath.Join(t.TempDir(), "new")
	os.WriteFile(src, []byte("x"), 0o600)
	_, err := Install(src, "/proc/agent-dir-that-cannot-exist/agent", nil)
	if err == nil || !strings.Contains(err.Error(), "ReadWritePaths= for that directory alone") || !strings.Contains(err.Error(), "/usr/local/lib/tether-agent") {
		t.Fatalf("got %v", err)
	}
}

func copyTestFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
