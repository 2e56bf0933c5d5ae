package main

import (
	"fmt"
	"io"
)

// Set at build time: -X main.commit=<git sha> -X main.buildDate=<RFC 3339>.
var (
	commit    = ""
	buildDate = ""
)

// printVersion prints "agent <version> (commit <sha>, built <date>)",
// leaving out what the build did not stamp.
func printVersion(w io.Writer) {
	info := ""
	switch {
	case commit != "" && buildDate != "":
		info = fmt.Sprintf(" (commit %s, built %s)", commit, buildDate)
	case commit != "":
		info = fmt.Sprintf(" (commit %s)", commit)
	case buildDate != "":
		info = fmt.Sprintf(" (built %s)", buildDate)
	}
	fmt.Fprintf(w, "agent %s%s\n", version, info)
}
