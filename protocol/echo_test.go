package protocol

func init() {
	golden["heartbeat_applied"] = &Heartbeat{V: Version, Seq: 9, Time: 1700000000123, Running: 1,
		CPU: 125, MemUsedMiB: 300, Load1: 42, Applied: 123456}
	golden["desired_echo"] = &Desired{V: Version, NodeID: "n1", Index: 123456, Time: 1700000000300, Allocs: []DesiredAlloc{}, Metrics: true, Echo: true}
}
