package server

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// BenchmarkRaftLogRead is what the leader pays to send a new entry to a
// follower: a 3 MB entry (a plan placing a system job on 10,000 nodes is
// of that size) read from the bolt log file ("bolt", what every follower's
// replication cost before) or from the log cache central now puts in
// front of it ("cache"), in the same run.
func BenchmarkRaftLogRead(b *testing.B) {
	store, err := raftboltdb.NewBoltStore(filepath.Join(b.TempDir(), "raft.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	cache, err := raft.NewLogCache(raftLogCache, store)
	if err != nil {
		b.Fatal(err)
	}
	entry := &raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: make([]byte, 3<<20)}
	if err := cache.StoreLog(entry); err != nil { // through the cache, as Raft writes
		b.Fatal(err)
	}
	for name, s := range map[string]raft.LogStore{"bolt": store, "cache": cache} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(entry.Data)))
			var out raft.Log
			for i := 0; i < b.N; i++ {
				if err := s.GetLog(1, &out); err != nil || len(out.Data) != len(entry.Data) {
					b.Fatalf("GetLog: %v (%d bytes)", err, len(out.Data))
				}
			}
		})
	}
}
