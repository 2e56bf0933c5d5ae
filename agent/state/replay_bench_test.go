package state

import (
	"io"
	"log/slog"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

// BenchmarkReplayAfterHourOffline measures what an agent sends when it
// reconnects after an hour offline during which one task flapped every
// minute (three state changes per flap): the compacted outbox replay,
// against what sending every change would have cost.
//
//	go test -run '^$' -bench ReplayAfterHourOffline ./agent/state/
func BenchmarkReplayAfterHourOffline(b *testing.B) {
	alloc := &protocol.DesiredAlloc{ID: "5f1c2a9e-7b3d-4c1e-9a8f-0d2b6e4c8a11", JobID: "payments", TaskGroup: "api"}
	var replay, naive int
	for i := 0; i < b.N; i++ {
		s, _, err := Open(b.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		naive = 0
		ts := protocol.TaskState{State: protocol.TaskRunning}
		t0 := int64(1_900_000_000_000)
		for minute := 0; minute < 60; minute++ {
			for _, ev := range []string{protocol.EventTerminated, protocol.EventRestarting, protocol.EventStarted} {
				now := t0 + int64(minute)*60_000
				ts.Events = append(ts.Events, protocol.TaskEvent{Type: ev, Time: now, Message: "exit status 1", ExitCode: 1})
				if len(ts.Events) > 10 { // the task runner keeps the newest 10
					ts.Events = ts.Events[len(ts.Events)-10:]
				}
				ts.Restarts = minute + 1
				u := protocol.AllocUpdate{AllocID: alloc.ID, ClientStatus: protocol.AllocRunning, Time: now,
					TaskStates: map[string]protocol.TaskState{"api": ts}}
				rec, err := s.RecordUpdate(alloc, u)
				if err != nil {
					b.Fatal(err)
				}
				one, _ := protocol.Encode(&protocol.Update{V: protocol.Version, Allocs: []protocol.AllocUpdate{rec}})
				naive += len(one)
			}
		}
		out, err := s.Outbox(0, 256)
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != 1 {
			b.Fatalf("outbox holds %d entries for one alloc, want 1 (compacted)", len(out))
		}
		msg, _ := protocol.Encode(&protocol.Update{V: protocol.Version, Allocs: out})
		replay = len(msg)
		s.Close()
	}
	b.ReportMetric(float64(replay), "replay_bytes")
	b.ReportMetric(float64(naive), "uncompacted_bytes")
}
