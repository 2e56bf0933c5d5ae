// Package boards owns the board profiles: one folder per kind of device
// (boards/rpi-zero, rpi3, rpi4, rpi5, arm64-gateway, x86-gateway), each with
//
//	board.json           the profile: Go target, wasm engine, reserved cpu/memory, fingerprint hints
//	agent.hcl.tmpl       the agent config file, a text/template over ConfigParams
//	tether-agent.service the systemd unit
//	README.md            what the board is and how to provision it
//
// The folders are embedded, so `central board bundle` carries them:
//
//	b, err := boards.Load("rpi4")           // profile parsed and checked
//	cfg, err := b.RenderConfig(params)       // agent.hcl, parsed back by agent/config
//	unit := b.Unit                           // bytes of the systemd unit
package boards
