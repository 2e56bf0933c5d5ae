package shop

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrNoUpstream is returned when an upstream's address is not known yet.
var ErrNoUpstream = fmt.Errorf("upstream not known yet")

// Upstream finds another service's base URL: the environment variable Env
// (set at start from an env = true template), or, when that is empty, the
// line Env=... of File, read again on every call. File is the template's
// destination: with change_mode = "noop" the agent keeps the file current
// without restarting the task, so a task that started before its upstream
// registered still finds it.
type Upstream struct {
	Env    string
	File   string
	Getenv func(string) string
}

// URL returns the upstream's base URL without a trailing slash.
func (u Upstream) URL() (string, error) {
	if v := strings.TrimSpace(u.Getenv(u.Env)); v != "" {
		return strings.TrimRight(v, "/"), nil
	}
	if u.File != "" {
		if b, err := os.ReadFile(u.File); err == nil {
			if v := EnvFileValue(string(b), u.Env); v != "" {
				return strings.TrimRight(v, "/"), nil
			}
		}
	}
	return "", fmt.Errorf("%w: %s is empty (is the service registered and healthy?)", ErrNoUpstream, u.Env)
}

// EnvFileValue returns the value of key in KEY=VALUE lines (a value in
// double quotes is unquoted); "" when key is absent.
func EnvFileValue(text, key string) string {
	val := ""
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.TrimSpace(strings.TrimPrefix(k, "export ")) != key {
			continue
		}
		v = strings.TrimSpace(v)
		if u, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = u
		}
		val = v // the last line wins, as in the agent's env files
	}
	return val
}
