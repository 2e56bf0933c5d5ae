// Package upgrade is the agent's side of over-the-air upgrades
// (docs/upgrades.md): it downloads a release binary into data_dir/upgrade,
// resuming a cut download, verifies its size, SHA-256 and central's
// release signature before anything runs it, installs it beside the
// running binary (A/B: the previous one kept as agent.prev), execs it in
// the agent's process, and runs the watchdog (the previous binary's
// upgrade-watchdog subcommand) that puts the previous binary back when
// the new agent is not healthy within the health window.
package upgrade
