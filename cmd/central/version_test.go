package main

import (
	"bytes"
	"testing"
)

func TestVersion(t *testing.T) {
	tests := []struct {
		commit, date, want string
	}{
		{"", "", "central 0.1.0-dev\n"},
		{"abc1234", "", "central 0.1.0-dev (commit abc1234)\n"},
		{"", "2026-11-26T12:00:00Z", "central 0.1.0-dev (built 2026-11-26T12:00:00Z)\n"},
		{"abc1234", "2026-11-26T12:00:00Z", "central 0.1.0-dev (commit abc1234, built 2026-11-26T12:00:00Z)\n"},
	}
	defer func(c, d string) { commit, buildDate = c, d }(commit, buildDate)
	for _, tt := range tests {
		commit, buildDate = tt.commit, tt.date
		for _, arg := range []string{"version", "-version"} {
			var out, errOut bytes.Buffer
			if code := run([]string{"central", arg}, &out, &errOut); code != 0 || out.String() != tt.want {
				t.Errorf("%s with commit %q date %q: exit %d, %q; want %q", arg, tt.commit, tt.date, code, out.String(), tt.want)
			}
		}
	}
}
