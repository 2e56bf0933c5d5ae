// Command agent is Tether's edge agent: it runs on a device, registers it
// with central over MQTT and runs the allocations central places on it.
// See docs/agent.md.
package main

import (
	"os"
	"runtime"
)

// The main goroutine stays on the process's first thread, so an upgrade's
// exec into the new binary comes from that thread: an exec from another
// thread leaves the first one a zombie for a moment, which the watchdog
// could take for an agent that died.
func init() { runtime.LockOSThread() }

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }
