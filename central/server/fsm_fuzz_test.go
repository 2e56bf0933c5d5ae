package server

import (
	"bytes"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzFSMRestore feeds arbitrary snapshot streams (a snapshot file's body,
// or a leader's InstallSnapshot) to the server FSM: errors are fine,
// panics are not.
func FuzzFSMRestore(f *testing.F) {
	b, _ := registryEnc.Marshal([]ServerInfo{{ID: "s1", RaftAddr: "127.0.0.1:7601", HTTPAddr: "127.0.0.1:7600"}})
	hdr := append([]byte(nil), snapshotMagic...)
	hdr = append(hdr, byte(len(b)))
	f.Add(append(hdr, b...))
	f.Add([]byte("TETHRSV1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := &fsm{inner: newStateFSM(), reg: newRegistry()}
		_ = fs.Restore(io.NopCloser(bytes.NewReader(data)))
	})
}

// FuzzRegistryEntry feeds arbitrary Raft entries that carry the registry
// marker to Apply.
func FuzzRegistryEntry(f *testing.F) {
	e, _ := encodeRegistryEntry(ServerInfo{ID: "s1", RaftAddr: "127.0.0.1:7601", HTTPAddr: "127.0.0.1:7600"})
	f.Add(e[1:])
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := &fsm{inner: newStateFSM(), reg: newRegistry()}
		fs.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: append([]byte{registryEntryMarker}, data...)})
	})
}
