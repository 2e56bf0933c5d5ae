package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tether-edge/tether/internal/testhost"
)

func TestCompletionBash(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run([]string{"completion", "bash"}, &out, &errb, func(string) string { return "" }); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	script := out.String()
	for _, want := range []string{"complete -o filenames -F _central central", `job) COMPREPLY=($(compgen -W "dispatch history inspect `, "dev", "service"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// Every job subcommand, in order, from the verb table.
	var subs []string
	for name := range verbs() {
		if sub, ok := strings.CutPrefix(name, "job "); ok {
			first, _, _ := strings.Cut(sub, " ")
			subs = append(subs, first)
		}
	}
	sort.Strings(subs)
	subs = slices.Compact(subs)
	if want := `job) COMPREPLY=($(compgen -W "` + strings.Join(subs, " ") + `"`; !strings.Contains(script, want) || !slices.Contains(subs, "validate") {
		t.Errorf("script lacks %q:\n%s", want, script)
	}
	bash, err := exec.LookPath("bash")
	testhost.Require(t, err == nil, "bash", "apt-get install bash")
	// Complete "central job st" with the real script.
	path := filepath.Join(t.TempDir(), "c.sh")
	os.WriteFile(path, []byte(script+"\nCOMP_WORDS=(central job st); COMP_CWORD=2; _central; echo \"${COMPREPLY[@]}\"\n"), 0o644)
	got, err := exec.Command(bash, path).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(got)) != "status stop" {
		t.Fatalf("completion of `central job st` = %q, want \"status stop\"", got)
	}
}
