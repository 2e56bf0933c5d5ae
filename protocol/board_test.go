package protocol

import "testing"

func init() {
	golden["heartbeat_temp"] = &Heartbeat{V: Version, Seq: 9, Time: 1700000000123, Running: 1, Boot: 1700000000000, SoCTemp: 483}
}

func TestHeartbeatWithTemperatureIsSmall(t *testing.T) {
	b, _ := Encode(&Heartbeat{V: Version, Seq: 1 << 40, Time: 1_900_000_000_000, Running: 200, Outbox: 60000, Boot: 1_900_000_000_000,
		Tasks: 1000, Restarts: 60000, Reconnects: 60000, SoCTemp: -400})
	if len(b) > 64 {
		t.Fatalf("heartbeat with counters and temperature is %d bytes, want <= 64", len(b))
	}
	var hb Heartbeat
	if err := Decode(b, &hb); err != nil || hb.SoCTemp != -400 {
		t.Fatalf("decoded %+v, %v", hb, err)
	}
}
