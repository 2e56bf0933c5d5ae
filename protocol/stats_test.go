package protocol

import "testing"

func init() {
	golden["stats_request"] = &StatsRequest{V: Version, ID: "r1", AllocID: "a1", Task: "web"}
	golden["stats_reply"] = &StatsReply{V: Version, ID: "r1", Time: 1700000000123, Tasks: []TaskUsage{
		{Name: "web", CPU: 1250, CPUTimeMs: 98765, MemBytes: 64 << 20},
		{Name: "guest", MemBytes: 2 << 20, NoCPU: true},
		{Name: "side", Unavailable: "not running"},
	}}
	golden["heartbeat_metrics"] = &Heartbeat{V: Version, Seq: 9, Time: 1700000000123, Running: 1, SoCTemp: 483,
		CPU: 125, MemUsedMiB: 300, Load1: 42, DiskUsedMiB: 5 << 10, DiskAvailMiB: 20 << 10}
}

func FuzzDecodeStatsRequest(f *testing.F) { fuzzDecode[StatsRequest](f, golden["stats_request"]) }
func FuzzDecodeStatsReply(f *testing.F)   { fuzzDecode[StatsReply](f, golden["stats_reply"]) }

func FuzzParseStatsTopic(f *testing.F) {
	tp := Topics{}
	f.Add(tp.Stats("n1"))
	f.Add(tp.StatsReply("n1", "r1"))
	f.Add("tether/v1/node/n1/stats/r1/x")
	f.Fuzz(func(t *testing.T, topic string) {
		node, req, ok := tp.ParseStats(topic)
		if !ok {
			return
		}
		if !ValidID(node) || req != "" && !ValidID(req) {
			t.Fatalf("%q parsed to node %q request %q", topic, node, req)
		}
		want := tp.Stats(node)
		if req != "" {
			want = tp.StatsReply(node, req)
		}
		if want != topic {
			t.Fatalf("%q parsed to node %q request %q, which build %q", topic, node, req, want)
		}
	})
}

func TestStatsTopics(t *testing.T) {
	tp := Topics{Prefix: "p"}
	for _, tt := range []struct {
		topic, node, req string
		ok               bool
	}{
		{"p/node/n1/stats", "n1", "", true},
		{"p/node/n1/stats/r1", "n1", "r1", true},
		{"p/node/n1/stats/r1/x", "", "", false},
		{"p/node/n1/logs/r1", "", "", false},
		{"q/node/n1/stats", "", "", false},
		{"p/node//stats", "", "", false},
	} {
		node, req, ok := tp.ParseStats(tt.topic)
		if node != tt.node || req != tt.req || ok != tt.ok {
			t.Errorf("ParseStats(%q) = %q, %q, %v", tt.topic, node, req, ok)
		}
	}
}

// A heartbeat to a central that takes device metrics drops Boot, adds CPU,
// memory and load, and gives the disk in MiB: on a typical node it is no
// larger than the heartbeat it replaces, and a busy node's stays under 96
// bytes.
func TestHeartbeatWithMetricsIsSmall(t *testing.T) {
	now := int64(1_900_000_000_000)
	before, _ := Encode(&Heartbeat{V: Version, Seq: 1234, Time: now, Boot: now - 3_600_000, Running: 2, Tasks: 2, SoCTemp: 483,
		DiskUsed: 5 << 30, DiskAvail: 20 << 30})
	after, _ := Encode(&Heartbeat{V: Version, Seq: 1234, Time: now, Running: 2, Tasks: 2, SoCTemp: 483,
		DiskUsedMiB: 5 << 10, DiskAvailMiB: 20 << 10, CPU: 125, MemUsedMiB: 300, Load1: 42})
	t.Logf("typical heartbeat: %d bytes before the metrics, %d with them (Boot left out)", len(before), len(after))
	if len(after) > len(before) {
		t.Fatalf("heartbeat with metrics is %d bytes, %d more than without", len(after), len(after)-len(before))
	}
	busy := Heartbeat{V: Version, Seq: 1 << 40, Time: now, Running: 200, Outbox: 60000, Tasks: 1000, Restarts: 60000, Reconnects: 60000,
		SoCTemp: -400, DiskUsedMiB: 15 << 10, DiskAvailMiB: 1 << 20, GCRemoved: 1 << 32, CPU: 1000, MemUsedMiB: 1 << 20, Load1: 65535}
	b, err := Encode(&busy)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 96 {
		t.Fatalf("busy heartbeat with metrics is %d bytes, want <= 96", len(b))
	}
	var hb Heartbeat
	if err := Decode(b, &hb); err != nil || hb != busy {
		t.Fatalf("decoded %+v, %v", hb, err)
	}
}

func TestHeartbeatDisk(t *testing.T) {
	for _, tt := range []struct {
		hb          Heartbeat
		used, avail uint64
	}{
		{Heartbeat{DiskUsed: 5, DiskAvail: 7}, 5, 7},
		{Heartbeat{DiskUsedMiB: 5, DiskAvailMiB: 7}, 5 << 20, 7 << 20},
		{Heartbeat{DiskUsed: 1, DiskAvailMiB: 7}, 0, 7 << 20}, // MiB keys win
		{Heartbeat{}, 0, 0},
	} {
		if u, a := tt.hb.Disk(); u != tt.used || a != tt.avail {
			t.Errorf("%+v: Disk() = %d, %d, want %d, %d", tt.hb, u, a, tt.used, tt.avail)
		}
	}
}
