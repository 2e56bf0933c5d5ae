//go:build linux

package exec

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/schema"
)

// defaultPath is the task's PATH when neither the task nor the agent has one.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// taskConfig is a decoded exec config block.
type taskConfig struct {
	command string   // as written
	path    string   // resolved executable
	args    []string // without argv[0]
	dir     string
	env     []string
}

func parseTaskConfig(cfg *drivers.TaskConfig) (*taskConfig, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, fmt.Errorf("exec: task config has no ID")
	}
	ec, err := schema.Exec(cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", cfg.ID, err)
	}
	tc := taskConfig{command: ec.Command, args: ec.Args}
	cmd, wd := ec.Command, ec.WorkDir
	switch {
	case wd == "":
		tc.dir = cfg.TaskDir
	case filepath.IsAbs(wd) || cfg.TaskDir == "":
		tc.dir = wd
	default:
		tc.dir = filepath.Join(cfg.TaskDir, wd)
	}

	envPath := ""
	keys := make([]string, 0, len(cfg.Env)+1)
	for k := range cfg.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tc.env = append(tc.env, k+"="+cfg.Env[k])
	}
	if p, ok := cfg.Env["PATH"]; ok {
		envPath = p
	} else {
		envPath = os.Getenv("PATH")
		if envPath == "" {
			envPath = defaultPath
		}
		tc.env = append(tc.env, "PATH="+envPath)
	}
	if tc.env == nil {
		tc.env = []string{} // never nil: nil would make os/exec inherit the agent's environment
	}

	if tc.path, err = lookPath(cmd, envPath, tc.dir); err != nil {
		return nil, fmt.Errorf("exec: task %q: %w", cfg.ID, err)
	}
	return &tc, nil
}

// lookPath resolves command the way a shell would with the task's PATH
// (not the agent's). A relative path with a slash is relative to dir.
func lookPath(command, path, dir string) (string, error) {
	if strings.Contains(command, "/") {
		p := command
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("command %q: %w; set config.command to an executable file", command, err)
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) && dir != "" {
			d = filepath.Join(dir, d)
		}
		p := filepath.Join(d, command)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the task's PATH %q; use an absolute path or set PATH in the task's env", command, path)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}

// credential returns the credentials to run a task as name ("" : the
// agent's own user).
func credential(name string) (*syscall.Credential, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("exec: task user %q does not exist on this node; create it or change the task's user", name)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("exec: task user %q has a non-numeric uid/gid (%s/%s)", name, u.Uid, u.Gid)
	}
	if euid := os.Geteuid(); euid != 0 {
		if uint64(euid) != uid {
			return nil, fmt.Errorf("exec: task user %q needs the agent to run as root (it runs as uid %d); run the agent as root or remove the task's user", name, euid)
		}
		return nil, nil // already that user
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	if cred.Groups == nil {
		cred.Groups = []uint32{uint32(gid)} // never keep root's supplementary groups
	}
	return cred, nil
}
