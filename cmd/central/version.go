package main

import (
	"fmt"
	"io"

	"github.com/tether-edge/tether/central/server"
)

// Set at build time: -X main.commit=<git sha> -X main.buildDate=<RFC 3339>.
var (
	commit    = ""
	buildDate = ""
)

// printVersion prints "central <version> (commit <sha>, built <date>)",
// leaving out what the build did not stamp.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "central %s%s\n", server.Version, buildInfo(commit, buildDate))
}

func buildInfo(commit, date string) string {
	switch {
	case commit != "" && date != "":
		return fmt.Sprintf(" (commit %s, built %s)", commit, date)
	case commit != "":
		return fmt.Sprintf(" (commit %s)", commit)
	case date != "":
		return fmt.Sprintf(" (built %s)", date)
	}
	return ""
}
