package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/tether-edge/tether/central/state"
)

// fsm wraps the state FSM with the server registry: registry entries (see
// registryEntryMarker) update the registry, every other entry goes to the
// state store. A snapshot is the registry, length-prefixed after a magic
// header, followed by the state store's own stream; a snapshot without the
// header (written before the registry existed) restores the store alone.
type fsm struct {
	inner *state.FSM
	reg   *registry
	// applied is the index of the last entry this FSM applied (Raft's own
	// AppliedIndex moves before its FSM has applied an entry). After a
	// snapshot restore it lags until the next entry; readers only wait on
	// it, boundedly (readyourwrites.go).
	applied atomic.Uint64
}

var _ raft.FSM = (*fsm)(nil)

// snapshotMagic opens a server snapshot.
var snapshotMagic = []byte("TETHRSV1")

// maxRegistrySize bounds the registry part of a snapshot.
const maxRegistrySize = 1 << 20

// errBadSnapshot is returned for a snapshot whose registry does not decode.
var errBadSnapshot = errors.New("server: bad snapshot")

func (f *fsm) Apply(l *raft.Log) any {
	defer f.applied.Store(l.Index)
	if l.Type == raft.LogCommand && len(l.Data) > 0 && l.Data[0] == registryEntryMarker {
		var info ServerInfo
		if err := registryDec.Unmarshal(l.Data[1:], &info); err != nil || info.ID == "" {
			return &state.ApplyResult{Index: l.Index, Err: fmt.Errorf("server: undecodable registry entry at index %d: %v", l.Index, err)}
		}
		f.reg.put(info)
		return &state.ApplyResult{Index: l.Index}
	}
	return f.inner.Apply(l)
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	inner, err := f.inner.Snapshot()
	if err != nil {
		return nil, err
	}
	servers, _ := f.reg.list()
	b, err := registryEnc.Marshal(servers)
	if err != nil {
		return nil, fmt.Errorf("server: snapshot registry: %w", err)
	}
	return &fsmSnapshot{reg: b, inner: inner}, nil
}

type fsmSnapshot struct {
	reg   []byte
	inner raft.FSMSnapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	hdr := make([]byte, 0, len(snapshotMagic)+binary.MaxVarintLen64+len(s.reg))
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.AppendUvarint(hdr, uint64(len(s.reg)))
	hdr = append(hdr, s.reg...)
	if _, err := sink.Write(hdr); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("server: write snapshot header: %w", err)
	}
	return s.inner.Persist(sink)
}

func (s *fsmSnapshot) Release() { s.inner.Release() }

// Restore reads the registry (merging it into the one in memory: entries
// are keyed by server ID and servers re-register themselves) and hands the
// rest to the state store.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	head, err := br.Peek(len(snapshotMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", errBadSnapshot, err)
	}
	if !bytes.Equal(head, snapshotMagic) {
		return f.inner.Restore(io.NopCloser(br))
	}
	br.Discard(len(snapshotMagic))
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxRegistrySize {
		return fmt.Errorf("%w: registry length %d: %v", errBadSnapshot, n, err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return fmt.Errorf("%w: registry: %v", errBadSnapshot, err)
	}
	var servers []ServerInfo
	if err := registryDec.Unmarshal(b, &servers); err != nil {
		return fmt.Errorf("%w: registry: %v", errBadSnapshot, err)
	}
	if err := f.inner.Restore(io.NopCloser(br)); err != nil {
		return err
	}
	f.reg.merge(servers)
	return nil
}
