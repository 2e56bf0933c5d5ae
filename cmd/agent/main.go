// Command agent is Tether's edge agent: it runs on a device, registers it
// with central over MQTT and runs the allocations central places on it.
// See docs/agent.md.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }
