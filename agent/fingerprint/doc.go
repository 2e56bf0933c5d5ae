// Package fingerprint owns what a node tells central about itself: the
// attributes (named as Nomad names them: kernel.name, cpu.arch,
// memory.totalbytes, unique.hostname, driver.exec, ...) and the resources it
// offers. On boards it adds board.model (device tree, DMI or the Pi's
// cpuinfo "Model" line), cpu.modelname, cpu.features (the flags jobs
// constrain on) and board.temperature (°C, from sys/class/thermal, which
// Temperature also reads for every heartbeat).
//
// Every file is read under a root directory, so tests use a fake /proc and
// /sys tree in testdata:
//
//	fp := fingerprint.Fingerprinter{Root: "/", Version: "0.1.0"}
//	res := fp.Run(ctx, drivers)   // res.Attributes, res.Drivers, res.Resources
package fingerprint
