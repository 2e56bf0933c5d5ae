package server

import (
	"sort"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// ServerInfo is what the cluster knows about one server: how to reach its
// Raft transport, its HTTP API (where followers forward writes) and its
// embedded broker (empty with external brokers). It is replicated through
// Raft so every server can find the leader's HTTP address.
type ServerInfo struct {
	ID       string `json:"id" cbor:"1,keyasint"`
	RaftAddr string `json:"raft_addr" cbor:"2,keyasint"`
	HTTPAddr string `json:"http_addr" cbor:"3,keyasint"`
	MQTTURL  string `json:"mqtt_url,omitempty" cbor:"4,keyasint,omitempty"`
	Removed  bool   `json:"removed,omitempty" cbor:"5,keyasint,omitempty"`
}

// registry is the replicated map of server ID → ServerInfo. The FSM writes
// it (one goroutine); readers anywhere take the mutex.
type registry struct {
	mu      sync.Mutex // guards servers and changed
	servers map[string]ServerInfo
	changed chan struct{} // closed and replaced on every change
}

func newRegistry() *registry {
	return &registry{servers: map[string]ServerInfo{}, changed: make(chan struct{})}
}

func (r *registry) put(info ServerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if info.Removed {
		delete(r.servers, info.ID)
	} else {
		r.servers[info.ID] = info
	}
	r.notifyLocked()
}

func (r *registry) merge(all []ServerInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, info := range all {
		r.servers[info.ID] = info
	}
	r.notifyLocked()
}

func (r *registry) notifyLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *registry) get(id string) (ServerInfo, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	info, ok := r.servers[id]
	return info, ok
}

// list returns every server sorted by ID, and a channel closed at the next
// change.
func (r *registry) list() ([]ServerInfo, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ServerInfo, 0, len(r.servers))
	for _, s := range r.servers {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, r.changed
}

// Raft entries that carry a ServerInfo start with this byte, which never
// starts a CBOR-encoded state.Command (0xff is CBOR's "break" code).
const registryEntryMarker = 0xff

var registryEnc, _ = cbor.CoreDetEncOptions().EncMode()

var registryDec, _ = cbor.DecOptions{
	MaxNestedLevels: 8, MaxArrayElements: 1024, MaxMapPairs: 1024, DupMapKey: cbor.DupMapKeyEnforcedAPF,
}.DecMode()

func encodeRegistryEntry(info ServerInfo) ([]byte, error) {
	b, err := registryEnc.Marshal(info)
	if err != nil {
		return nil, err
	}
	return append([]byte{registryEntryMarker}, b...), nil
}
