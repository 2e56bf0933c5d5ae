package protocol

import "testing"

// The disk and GC fields keep a busy node's heartbeat under 96 bytes, and
// decode back.
func TestHeartbeatWithDiskIsSmall(t *testing.T) {
	in := Heartbeat{V: Version, Seq: 1 << 40, Time: 1_900_000_000_000, Running: 200, Outbox: 60000, Boot: 1_900_000_000_000,
		Tasks: 1000, Restarts: 60000, Reconnects: 60000, SoCTemp: -400, DiskUsed: 15 << 30, DiskAvail: 1 << 40, GCRemoved: 1 << 32}
	b, err := Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 96 {
		t.Fatalf("heartbeat with disk fields is %d bytes, want <= 96", len(b))
	}
	var hb Heartbeat
	if err := Decode(b, &hb); err != nil || hb != in {
		t.Fatalf("decoded %+v, %v", hb, err)
	}
}
