package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExitCodes checks the documented exit codes (docs/cli.md): 0 ok,
// 1 for an error talking to the API, 2 for a usage error.
func TestExitCodes(t *testing.T) {
	c := newCluster(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.URL
	dead.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"help", []string{"-h"}, exitOK, "Usage: central"},
		{"verb help", []string{"job", "status", "-help"}, exitOK, "Usage: central job status"},
		{"group help", []string{"job", "-h"}, exitOK, "Subcommands:"},
		{"unknown verb", []string{"frobnicate"}, exitUsage, `Unknown command "frobnicate"`},
		{"unknown subcommand", []string{"job", "frobnicate"}, exitUsage, `Unknown command "job frobnicate"`},
		{"unknown raft subcommand", []string{"operator", "raft", "frobnicate"}, exitUsage, `Unknown command "operator raft frobnicate"`},
		{"no command", nil, exitUsage, "Usage: central"},
		{"unknown flag", []string{"node", "status", "-frobnicate"}, exitUsage, "flag provided but not defined: -frobnicate"},
		{"bad flag value", []string{"job", "submit", "-timeout", "soon", "web.hcl"}, exitUsage, "invalid value"},
		{"missing argument", []string{"alloc", "status"}, exitUsage, "takes [options] ALLOC, got 0 argument(s)"},
		{"extra argument", []string{"job", "stop", "a", "b"}, exitUsage, "takes [options] JOB, got 2 argument(s)"},
		{"no arguments allowed", []string{"completion", "bash", "x"}, exitUsage, "takes no arguments"},
		{"conflicting flags", []string{"node", "eligibility", "-enable", "-disable", "n1"}, exitUsage, "exactly one of -enable or -disable"},
		{"api 404", []string{"eval", "status", "nope"}, exitError, "Error"},
		{"api unreachable", []string{"job", "status", "-address", deadAddr}, exitError, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := c.run(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
			}
		})
	}
}
