package protocol

import (
	"testing"
)

func init() {
	golden["logs_request"] = &LogsRequest{V: Version, ID: "r1", AllocID: "a1", Task: "web", Stderr: true, Follow: true, Lines: 20}
	golden["logs_chunk"] = &LogsChunk{V: Version, ID: "r1", Seq: 3, Data: []byte("hello\n"), EOF: true, Err: "task has no stderr log yet"}
	golden["heartbeat_counters"] = &Heartbeat{V: Version, Seq: 9, Time: 1700000000123, Running: 1, Outbox: 0, Boot: 1700000000000,
		Tasks: 2, Restarts: 5, Reconnects: 1}
}

func TestHeartbeatWithCountersIsSmall(t *testing.T) {
	b, _ := Encode(&Heartbeat{V: Version, Seq: 1 << 40, Time: 1_900_000_000_000, Running: 200, Outbox: 60000, Boot: 1_900_000_000_000,
		Tasks: 1000, Restarts: 60000, Reconnects: 60000})
	if len(b) > 64 {
		t.Fatalf("heartbeat with counters is %d bytes, want <= 64", len(b))
	}
}

func TestLogsTopics(t *testing.T) {
	tp := Topics{}
	if got := tp.Logs("n1"); got != "tether/v1/node/n1/logs" {
		t.Errorf("Logs = %q", got)
	}
	if got := tp.LogsReply("n1", "r1"); got != "tether/v1/node/n1/logs/r1" {
		t.Errorf("LogsReply = %q", got)
	}
	tests := []struct {
		topic     string
		node, req string
		ok        bool
	}{
		{"tether/v1/node/n1/logs", "n1", "", true},
		{"tether/v1/node/n1/logs/r1", "n1", "r1", true},
		{"tether/v1/node/n1/hb", "", "", false},
		{"tether/v1/node/n1/logs/r1/x", "", "", false},
		{"tether/v1/node/+/logs", "", "", false},
		{"tether/v1/node/n1/logs/#", "", "", false},
		{"other/node/n1/logs", "", "", false},
	}
	for _, tt := range tests {
		node, req, ok := tp.ParseLogs(tt.topic)
		if node != tt.node || req != tt.req || ok != tt.ok {
			t.Errorf("ParseLogs(%q) = %q %q %v, want %q %q %v", tt.topic, node, req, ok, tt.node, tt.req, tt.ok)
		}
	}
	// Node topics of the logs family are not mistaken for the others.
	if _, _, ok := tp.Parse("tether/v1/node/n1/logs"); ok {
		t.Error("Parse accepted a logs topic as a core node topic")
	}
}

func FuzzDecodeLogsRequest(f *testing.F) { fuzzDecode[LogsRequest](f, golden["logs_request"]) }
func FuzzDecodeLogsChunk(f *testing.F)   { fuzzDecode[LogsChunk](f, golden["logs_chunk"]) }

func FuzzParseLogsTopic(f *testing.F) {
	f.Add("tether/v1/node/n1/logs/r1")
	f.Fuzz(func(t *testing.T, topic string) {
		node, req, ok := Topics{}.ParseLogs(topic)
		if ok && (!ValidID(node) || req != "" && !ValidID(req)) {
			t.Fatalf("ParseLogs(%q) accepted node %q req %q", topic, node, req)
		}
	})
}
