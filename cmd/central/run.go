package main

import (
	"io"
	"os"

	"github.com/tether-edge/tether/central/cli"
)

// run dispatches to the server commands (server, dev, version) and hands
// every other verb to the CLI. It returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		return cli.Run(nil, stdout, stderr, os.Getenv)
	}
	switch args[1] {
	case "server":
		return runServer(args[2:], stdout, stderr)
	case "dev":
		return runDev(args[2:], stdout, stderr)
	case "version", "-version", "--version":
		printVersion(stdout)
		return 0
	}
	return cli.Run(args[1:], stdout, stderr, os.Getenv)
}
