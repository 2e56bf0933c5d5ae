// Package test holds Tether's end-to-end and fault tests. They build the
// real binaries, start central, agents and (where asked) Mosquitto as
// separate processes on loopback ports, and drive them with the CLI, as a
// user would. Helpers are in harness.go.
package test
