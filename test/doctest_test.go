package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDocsRun runs every shell block of README.md and docs/*.md that is
// marked runnable (docs/contributing.md#commands-in-docs-run) against a
// live `central dev` on loopback, with the binaries this test run built
// first on PATH and as ./bin/. Each page gets its own live central and
// working directory; blocks run in page order and share the environment
// they export. It prints, per page, how many shell blocks are marked and
// how many are not.
func TestDocsRun(t *testing.T) {
	requireTool(t, "bash")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{filepath.Join(root, "README.md")}, pages...)

	byPage := map[string][]docBlock{}
	var order []string
	var defaultLive *docBlock
	var summary strings.Builder
	total, marked := 0, 0
	for _, p := range pages {
		rel, _ := filepath.Rel(root, p)
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := parseDocBlocks(rel, string(text))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var unmarked []string
		for i, b := range blocks {
			if !b.marked {
				unmarked = append(unmarked, fmt.Sprint(b.line))
				continue
			}
			n++
			if b.live && defaultLive == nil && rel == "README.md" {
				defaultLive = &blocks[i]
			}
		}
		if len(blocks) > 0 {
			fmt.Fprintf(&summary, "  %-24s %2d marked, %2d not marked", rel, n, len(blocks)-n)
			if len(unmarked) > 0 {
				fmt.Fprintf(&summary, " (lines %s)", strings.Join(unmarked, " "))
			}
			summary.WriteString("\n")
		}
		total, marked = total+len(blocks), marked+n
		if n > 0 {
			byPage[rel] = blocks
			order = append(order, rel)
		}
	}
	report := fmt.Sprintf("== doc shell blocks: %d marked runnable and run by TestDocsRun, %d not marked\n%s", marked, total-marked, summary.String())
	t.Log(report)
	if path := os.Getenv("TETHER_DOC_BLOCKS"); path != "" { // set by make test, which prints it
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Fatalf("write the doc block counts to %s: %v", path, err)
		}
	}
	if defaultLive == nil {
		t.Fatal("README.md has no block marked <!-- doctest: live -->: it is the live central every other page runs against")
	}

	for _, page := range order {
		t.Run(strings.ReplaceAll(page, "/", "_"), func(t *testing.T) {
			runDocPage(t, root, byPage[page], *defaultLive)
		})
	}
}

// docPage runs one page's marked blocks.
type docPage struct {
	t       *testing.T
	root    string
	dir     string // the blocks' working directory
	envFile string // what the blocks exported so far
	// curlHome holds the .curlrc every block's curl reads.
	curlHome string
	live     *liveCentral
}

func runDocPage(t *testing.T, root string, blocks []docBlock, defaultLive docBlock) {
	dir := t.TempDir()
	for _, l := range [][2]string{{bins.dir, "bin"}, {filepath.Join(root, "examples"), "examples"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	// curl fails on an HTTP error, so an example that gets a 404 fails.
	curlHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte("fail-with-body\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"curl", "jq"} {
		re := regexp.MustCompile(`(^|[\s|(])` + tool + `\s`)
		for _, b := range blocks {
			if b.marked && re.MatchString(b.script) {
				requireTool(t, tool)
				break
			}
		}
	}
	p := &docPage{t: t, root: root, dir: dir, envFile: filepath.Join(t.TempDir(), "env"), curlHome: curlHome}
	defer func() {
		if p.live != nil {
			p.live.stop()
		}
	}()
	for _, b := range blocks {
		if !b.marked {
			continue
		}
		if ip := nonLoopback(b.script); ip != "" {
			t.Fatalf("%s:%d: a runnable block names %s: tests talk only to loopback; leave the block unmarked or use 127.0.0.1", b.page, b.line, ip)
		}
		if b.live {
			if p.live != nil {
				p.live.stop()
			}
			p.live = p.startLive(b)
			continue
		}
		if p.live == nil {
			p.live = p.startLive(defaultLive)
		}
		p.run(b)
	}
}

// liveCentral is a `central dev` started from a block marked live.
type liveCentral struct {
	t    *testing.T
	c    *cluster
	proc *proc
}

// devRE finds the `central dev` command in a live block, where the
// harness adds its loopback addresses.
var devRE = regexp.MustCompile(`\bcentral dev\b`)

func (p *docPage) startLive(b docBlock) *liveCentral {
	t := p.t
	if len(devRE.FindAllStringIndex(b.script, -1)) != 1 {
		t.Fatalf("%s:%d: a block marked live must run `central dev` exactly once", b.page, b.line)
	}
	c := &cluster{t: t, dir: p.dir, agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	mqtt := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	script := devRE.ReplaceAllString(b.script, "central dev -http "+c.http+" -mqtt "+mqtt+" -data-dir "+filepath.Join(t.TempDir(), "central"))
	cmd := exec.Command("bash", "-c", p.prelude(c.http)+script)
	cmd.Dir, cmd.Env = p.dir, p.env()
	l := &liveCentral{t: t, c: c, proc: startCmd(t, fmt.Sprintf("%s:%d (live central)", b.page, b.line), cmd)}
	jobs := strings.Count(b.script, "-job ")
	eventually(t, 60*time.Second, func() error {
		if l.proc.exited() {
			t.Fatalf("%s:%d: the live central exited: %v\n%s", b.page, b.line, l.proc.err, l.proc.out.String())
		}
		var leader string
		if err := c.get("/v1/status/leader", &leader); err != nil || leader == "" {
			return fmt.Errorf("no leader yet (%v)", err)
		}
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil {
			if strings.Contains(err.Error(), "403") {
				return nil // ACLs on: the blocks bootstrap them
			}
			return err
		}
		if len(nodes) == 0 || nodes[0].Status != "ready" {
			return fmt.Errorf("the dev agent is not ready: %v", nodes)
		}
		var js []struct{ ID string }
		if err := c.get("/v1/jobs", &js); err != nil {
			return err
		}
		if len(js) < jobs {
			return fmt.Errorf("%d of the %d -job files submitted", len(js), jobs)
		}
		var allocs []alloc
		if err := c.get("/v1/allocations", &allocs); err != nil {
			return err
		}
		if len(allocs) < jobs {
			return fmt.Errorf("%d allocations for %d jobs", len(allocs), jobs)
		}
		for _, a := range allocs {
			if a.ClientStatus != "running" {
				return fmt.Errorf("allocation %s is %s", a.ID, a.ClientStatus)
			}
		}
		return nil
	})
	return l
}

// stop ends the live central as Ctrl-C does (it stops its jobs and its
// agent first), and kills what is left after 30 s.
func (l *liveCentral) stop() {
	pid := l.proc.cmd.Process.Pid
	syscall.Kill(-pid, syscall.SIGINT)
	select {
	case <-l.proc.done:
	case <-time.After(30 * time.Second):
		l.t.Errorf("the live central did not stop within 30 s of Ctrl-C")
		syscall.Kill(-pid, syscall.SIGKILL)
		<-l.proc.done
	}
	killChildGroups(pid)
}

// prelude starts every block's script: stop at the first failing command,
// take the environment earlier blocks exported, point the CLI at the live
// central, and make `make build` a no-op (this test built bin/ already).
func (p *docPage) prelude(addr string) string {
	return fmt.Sprintf(`set -eo pipefail
if [ -f %[1]q ]; then . %[1]q; fi
trap 'export -p > %[1]q' EXIT
cd %[2]q
export PATH=%[3]q:"$PATH" CENTRAL_ADDR=http://%[4]s
make() {
  if [ "$*" = build ]; then return 0; fi
  echo "doctest: a doc block may run only 'make build' (done by the test), not 'make $*'" >&2
  return 2
}
`, p.envFile, p.dir, bins.dir, addr)
}

func (p *docPage) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CENTRAL_") && !strings.HasPrefix(kv, "NOMAD_") {
			env = append(env, kv)
		}
	}
	return append(env, "CURL_HOME="+p.curlHome)
}

// placeholderRE finds the <name> placeholders a block may use for IDs
// only the live cluster knows.
var placeholderRE = regexp.MustCompile(`<(alloc-id|eval-id|node-id)>`)

// run runs one block and checks its exit status and output.
func (p *docPage) run(b docBlock) {
	t := p.t
	script := placeholderRE.ReplaceAllStringFunc(b.script, func(ph string) string {
		return p.placeholder(b, ph)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", p.prelude(p.live.c.http)+script)
	cmd.Dir, cmd.Env = p.dir, p.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s:%d: the block did not end within 60 s\n%s\noutput:\n%s", b.page, b.line, script, out.String())
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s:%d: %v", b.page, b.line, err)
	}
	if code != b.exit {
		t.Errorf("%s:%d: the block exited %d, the page says %d\n%s\noutput:\n%s", b.page, b.line, code, b.exit, script, out.String())
		return
	}
	if b.sample || len(b.want) == 0 {
		return
	}
	if missing, ok := outputMatches(out.String(), b.want); !ok {
		t.Errorf("%s:%d: the output has no line like %q (after the lines before it; IDs, times and numbers may differ), or mark the block sample\n%s\noutput:\n%s", b.page, b.line, missing, script, out.String())
	}
}

// placeholder gives the live cluster's value for <alloc-id> (its newest
// running allocation), <eval-id> (its newest evaluation) or <node-id> (the
// dev agent).
func (p *docPage) placeholder(b docBlock, ph string) string {
	c := p.live.c
	switch ph {
	case "<alloc-id>", "<eval-id>":
		path := map[string]string{"<alloc-id>": "/v1/allocations", "<eval-id>": "/v1/evaluations"}[ph]
		var list []struct {
			ID            string `json:"id"`
			CreateTime    int64  `json:"create_time"`
			ClientStatus  string `json:"client_status"`
			DesiredStatus string `json:"desired_status"`
		}
		if err := c.get(path, &list); err != nil || len(list) == 0 {
			p.t.Fatalf("%s:%d: %s: the live central lists nothing at %s (%v)", b.page, b.line, ph, path, err)
		}
		// An allocation that runs and is meant to beats a newer one that
		// does not (yet, or any more).
		live := func(i int) bool { return list[i].ClientStatus == "running" && list[i].DesiredStatus == "run" }
		best := 0
		for i := range list {
			if (live(i) && !live(best)) || (live(i) == live(best) && list[i].CreateTime > list[best].CreateTime) {
				best = i
			}
		}
		return list[best].ID
	default:
		var nodes []node
		if err := c.get("/v1/nodes", &nodes); err != nil || len(nodes) == 0 {
			p.t.Fatalf("%s:%d: <node-id>: the live central has no node (%v)", b.page, b.line, err)
		}
		return nodes[0].ID
	}
}
