package schema

import "strings"

// execKnown are the keys of an exec task's config block.
var execKnown = []string{"command", "args", "work_dir"}

// ExecConfig is an exec task's config block, decoded and checked.
type ExecConfig struct {
	Command string   // as written: an absolute path, a path relative to the task dir, or a name looked up in PATH
	Args    []string // without argv[0]
	WorkDir string   // "" : the task dir; relative: to the task dir
}

// Exec decodes an exec config block on the agent.
func Exec(cfg map[string]any) (ExecConfig, error) {
	return parseExec(reader{driver: "exec", cfg: cfg})
}

func parseExec(r reader) (ExecConfig, error) {
	var ec ExecConfig
	if err := r.keys(execKnown, execKeys); err != nil {
		return ec, err
	}
	cmd, ok, err := r.str("command")
	if err != nil {
		return ec, err
	}
	if !ok || strings.TrimSpace(cmd) == "" {
		return ec, r.errf("command", `add command = "/path/to/program" to the task's config block`, `config key "command" is required`)
	}
	ec.Command = cmd
	if ec.Args, _, err = r.strs("args"); err != nil {
		return ec, err
	}
	if ec.WorkDir, _, err = r.str("work_dir"); err != nil {
		return ec, err
	}
	return ec, nil
}
