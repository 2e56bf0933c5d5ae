package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tether-edge/tether/boards"
	"github.com/tether-edge/tether/central/board"
)

type listValue []string

func (l *listValue) String() string     { return strings.Join(*l, ",") }
func (l *listValue) Set(s string) error { *l = append(*l, s); return nil }

// boardList prints the board profiles.
func (e *env) boardList(args []string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	rows := [][]string{{"Board", "Target", "Wasm", "Description"}}
	for _, n := range boards.Names() {
		b, err := boards.Load(n)
		if err != nil {
			return e.fail("loading board "+n, err)
		}
		rows = append(rows, []string{n, b.Target.Suffix(), b.WasmEngine, b.Description})
	}
	table(e.stdout, rows)
	return exitOK
}

// boardBundle writes an agent tree for a board (central board bundle).
func (e *env) boardBundle(args []string) int {
	fs := e.flags()
	var o board.Options
	var brokers, meta listValue
	var out, root, tokenFile string
	fs.StringVar(&o.Board, "board", "", "board profile: "+strings.Join(boards.Names(), ", "))
	fs.StringVar(&o.Name, "name", "", "node name")
	fs.StringVar(&o.Datacenter, "datacenter", "dc1", "datacenter of the node")
	fs.Var(&brokers, "broker", "MQTT broker URL, e.g. tcp://site:1883 (repeatable)")
	fs.StringVar(&o.JoinToken, "join-token", "", "join token for enrolment, written to etc/tether/join-token (visible in ps here: prefer -join-token-file)")
	fs.StringVar(&tokenFile, "join-token-file", "", "read the join token from this `file`")
	fs.StringVar(&o.Central, "central", "", "central's HTTP API `URL` the agent enrols at with the join token, e.g. http://10.0.0.1:7600 (needed with a join token)")
	fs.StringVar(&o.CAFile, "tls-ca-file", "", "PEM CA `file` copied to etc/tether/ca.pem: trusted for an https:// central and ssl:// brokers")
	fs.Var(&meta, "meta", "node meta key=value (repeatable)")
	fs.StringVar(&out, "out", "", "write the tree into this directory (created if missing)")
	fs.StringVar(&root, "root", "", "write the tree into this OS root, e.g. an SD card's mounted rootfs")
	fs.StringVar(&o.Agent, "agent", "", "agent binary for the board (default dist/agent-<target>, or next to central)")
	fs.BoolVar(&o.FirstBoot, "first-boot", false, "add the Raspberry Pi OS first-boot hook (sets the host name)")
	fs.BoolVar(&o.Force, "force", false, "write even if the root or the binary is of another architecture")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	switch {
	case out != "" && root != "":
		fmt.Fprintln(e.stderr, "Error: use -out DIR or -root DIR, not both.")
		return exitUsage
	case root != "":
		o.Dir, o.Root = root, true
	default:
		o.Dir = out
	}
	if tokenFile != "" {
		if o.JoinToken != "" {
			fmt.Fprintln(e.stderr, "Error: use -join-token or -join-token-file, not both.")
			return exitUsage
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			fmt.Fprintf(e.stderr, "Error: -join-token-file: %v\n", err)
			return exitError
		}
		o.JoinToken = strings.TrimSpace(string(b))
	}
	o.Brokers = brokers
	if len(o.Brokers) == 0 {
		fmt.Fprintln(e.stderr, "Error: no broker: pass -broker tcp://site-broker:1883 (the agent's site broker).")
		return exitUsage
	}
	if len(meta) > 0 {
		o.Meta = map[string]string{}
		for _, kv := range meta {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				fmt.Fprintf(e.stderr, "Error: -meta %q: use -meta key=value.\n", kv)
				return exitUsage
			}
			o.Meta[k] = v
		}
	}
	if o.Agent == "" && o.Board != "" {
		if b, err := boards.Load(o.Board); err == nil {
			o.Agent = defaultAgent(b.Target.Suffix())
		}
	}
	rep, err := board.Bundle(o)
	if err != nil {
		if errors.Is(err, boards.ErrUnknownBoard) || errors.Is(err, board.ErrBadOptions) || errors.Is(err, board.ErrWrongArch) || errors.Is(err, board.ErrNotRoot) {
			fmt.Fprintf(e.stderr, "Error: %v\n", err)
			return exitError
		}
		return e.fail("writing the bundle", err)
	}
	for _, c := range rep.Changes {
		fmt.Fprintf(e.stdout, "%-9s %s\n", c.Action, filepath.Join(o.Dir, c.Path))
	}
	fmt.Fprintf(e.stdout, "==> board %s: %d path(s) written, %d unchanged\n", rep.Board, rep.Changed(), len(rep.Changes)-rep.Changed())
	return exitOK
}

// defaultAgent finds dist/agent-<suffix> in the working directory or next
// to the central binary; it returns the first candidate when none exists,
// so the error names the path make cross writes.
func defaultAgent(suffix string) string {
	name := "agent-" + suffix
	cands := []string{filepath.Join("dist", name)}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		cands = append(cands, filepath.Join(dir, name), filepath.Join(dir, "..", "dist", name))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}
