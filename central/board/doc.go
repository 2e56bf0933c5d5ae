// Package board writes a ready-to-boot agent tree for one board profile
// (see boards/) into a directory: a staging dir, or the mounted root
// partition of an SD card.
//
//	rep, err := board.Bundle(board.Options{Board: "rpi4", Name: "pi-07", Datacenter: "dc2",
//		Brokers: []string{"tcp://site:1883"}, Dir: "/media/rootfs", Root: true, Agent: "dist/agent-linux-arm64"})
//
// The pipeline is: load the profile → check the agent binary is built for
// the board (ELF machine, GOARM) → check the root's own binaries are of the
// board's architecture (unless Force) → render agent.hcl and parse it back
// with agent/config → write each file only when its bytes differ, so a
// second run reports every file unchanged.
//
// Tree written (paths relative to Dir):
//
//	usr/local/lib/tether-agent/agent                       (the unit's only ReadWritePaths: upgrades swap it there)
//	usr/local/bin/agent -> ../lib/tether-agent/agent        (convenience link)
//	etc/tether/agent.hcl                                   (0600: holds the join token)
//	etc/systemd/system/tether-agent.service
//	etc/systemd/system/multi-user.target.wants/tether-agent.service -> /etc/systemd/system/tether-agent.service
//	var/lib/tether-agent/                                  (0700, the data dir)
//	and with FirstBoot: usr/local/lib/tether/firstboot.sh, tether-firstboot.service and its wants link
package board
