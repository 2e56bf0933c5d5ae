package svccache

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tether-edge/tether/protocol"
)

// ErrMalformed is returned by Update for a payload that is not a valid
// ServiceSet for the topic's service.
var ErrMalformed = errors.New("svccache: malformed service set")

// ErrStale is returned by Update and Put for a set older than the one
// held: a lower Index, or the held Index with other instances (central
// publishes one set per Raft index, so that is a replay too). Index 0
// carries no order (sets from before central numbered them).
var ErrStale = errors.New("svccache: stale service set")

// Store persists the cache (agent/state.Store).
type Store interface {
	PutServiceSet(name string, set *protocol.ServiceSet) error
	ServiceSets() (map[string]protocol.ServiceSet, error)
}

// Cache holds the last ServiceSet per service name. Safe for concurrent use.
type Cache struct {
	store     Store
	log       *slog.Logger
	malformed atomic.Uint64
	stale     atomic.Uint64
	newNames  chan struct{} // capacity 1: "the watched names grew"

	mu   sync.Mutex // guards sets, enc, unordered, watched, watchers
	sets map[string]protocol.ServiceSet
	// unordered names held sets whose index no longer orders the next
	// one (ForgetIndexes): the next set replaces them whatever its index.
	unordered map[string]bool
	enc       map[string][]byte // canonical encoding of sets[name], to skip no-op updates
	watched   map[string]int    // name → number of watchers using it
	watchers  map[*Watcher]struct{}
}

// New loads the cached sets from store. An unreadable entry is logged and
// skipped (its service is then unknown until a message arrives).
func New(store Store, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.Default()
	}
	c := &Cache{
		store:    store,
		log:      log,
		newNames: make(chan struct{}, 1),
		sets:     map[string]protocol.ServiceSet{},
		enc:      map[string][]byte{},
		watched:  map[string]int{},
		watchers: map[*Watcher]struct{}{},
	}
	if store != nil {
		sets, err := store.ServiceSets()
		if err != nil {
			log.Warn("some cached service sets are unreadable and were skipped", "err", err)
		}
		for name, set := range sets {
			c.sets[name] = set
			c.enc[name], _ = protocol.Encode(&set)
		}
	}
	return c
}

// Malformed is the number of payloads dropped as malformed.
func (c *Cache) Malformed() uint64 { return c.malformed.Load() }

// Decode turns a svc/<name> payload into a ServiceSet: an empty payload is
// a set without instances; anything else must be a valid ServiceSet of that
// name (or with no name).
func Decode(name string, payload []byte) (protocol.ServiceSet, error) {
	set := protocol.ServiceSet{V: protocol.Version, Name: name}
	if len(payload) == 0 {
		return set, nil
	}
	if err := protocol.Decode(payload, &set); err != nil {
		return protocol.ServiceSet{}, fmt.Errorf("%w for %q: %v", ErrMalformed, name, err)
	}
	if set.Name == "" {
		set.Name = name
	}
	if set.Name != name {
		return protocol.ServiceSet{}, fmt.Errorf("%w: set for %q published on the topic of %q", ErrMalformed, set.Name, name)
	}
	for _, in := range set.Instances {
		if in.Port < 0 || in.Port > 65535 {
			return protocol.ServiceSet{}, fmt.Errorf("%w for %q: instance %q has port %d", ErrMalformed, name, in.ID, in.Port)
		}
	}
	return set, nil
}

// Stale is the number of sets dropped as older than the one held.
func (c *Cache) Stale() uint64 { return c.stale.Load() }

// Update applies a message received on svc/<name>. A malformed payload is
// counted and dropped, and so is a stale one (ErrStale): the cached set
// stays. An empty payload (central cleared the service) leaves no
// instances but keeps the held index, so the cleared set cannot be
// replayed either. Watchers of name are notified if the set changed; the
// new set is saved in the store.
func (c *Cache) Update(name string, payload []byte) error {
	set, err := Decode(name, payload)
	if err != nil {
		c.malformed.Add(1)
		return err
	}
	return c.put(set, len(payload) == 0)
}

// Put stores set (already decoded) under set.Name and notifies watchers if
// it changed. It refuses (ErrStale, counted) a set older than the one held.
func (c *Cache) Put(set protocol.ServiceSet) error { return c.put(set, false) }

// put is Put; cleared (an empty payload) always applies, keeping the held
// index.
func (c *Cache) put(set protocol.ServiceSet, cleared bool) error {
	if cleared {
		c.mu.Lock()
		set.Index = c.sets[set.Name].Index
		c.mu.Unlock()
	}
	enc, err := protocol.Encode(&set)
	if err != nil {
		panic("BUG: encoding a decoded ServiceSet: " + err.Error())
	}
	c.mu.Lock()
	old, known := c.enc[set.Name]
	if known && bytes.Equal(old, enc) {
		c.mu.Unlock()
		return nil
	}
	if held, ok := c.sets[set.Name]; ok && !cleared && !c.unordered[set.Name] && stale(set, held) {
		c.mu.Unlock()
		c.stale.Add(1)
		return fmt.Errorf("%w: %q index %d, holding index %d", ErrStale, set.Name, set.Index, held.Index)
	}
	c.sets[set.Name] = set
	c.enc[set.Name] = enc
	delete(c.unordered, set.Name)
	var notify []*Watcher
	for w := range c.watchers {
		if w.names[set.Name] {
			notify = append(notify, w)
		}
	}
	c.mu.Unlock()
	if c.store != nil {
		if err := c.store.PutServiceSet(set.Name, &set); err != nil {
			c.log.Error("caching service set; templates may render older data after a restart", "service", set.Name, "err", err)
		}
	}
	for _, w := range notify {
		w.poke()
	}
	return nil
}

// ForgetIndexes makes the next set of every held service replace it
// whatever its index: the agent pinned a new signing key, and the index
// of a set accepted under the old key orders nothing any more (a thief of
// that key could have signed one with a huge index).
func (c *Cache) ForgetIndexes() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unordered == nil {
		c.unordered = map[string]bool{}
	}
	for name := range c.sets {
		c.unordered[name] = true
	}
}

// stale reports whether set must not replace held (see ErrStale).
func stale(set, held protocol.ServiceSet) bool {
	switch {
	case set.Index < held.Index:
		return true
	case set.Index > held.Index || set.Index == 0:
		return false
	}
	return !sameInstances(set.Instances, held.Instances)
}

func sameInstances(a, b []protocol.ServiceInstance) bool {
	x, err1 := protocol.Encode(&protocol.ServiceSet{Instances: a})
	y, err2 := protocol.Encode(&protocol.ServiceSet{Instances: b})
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// Get returns the cached set of a service; known is false if nothing was
// ever received (or cached) for it.
func (c *Cache) Get(name string) (set protocol.ServiceSet, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set, known = c.sets[name]
	set.Instances = append([]protocol.ServiceInstance(nil), set.Instances...)
	return set, known
}

// Names returns the names watched now, sorted: the agent subscribes to them.
func (c *Cache) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.watched))
	for n := range c.watched {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NewNames fires when a name is watched that was not before.
func (c *Cache) NewNames() <-chan struct{} { return c.newNames }

// Watch returns a Watcher of names; more can be added later.
func (c *Cache) Watch(names ...string) *Watcher {
	w := &Watcher{c: c, names: map[string]bool{}, ch: make(chan struct{}, 1)}
	c.mu.Lock()
	c.watchers[w] = struct{}{}
	c.mu.Unlock()
	w.Add(names...)
	return w
}

// Watcher is notified when a set it watches changes.
type Watcher struct {
	c  *Cache
	ch chan struct{}

	// names is guarded by c.mu.
	names  map[string]bool
	closed bool
}

// C fires (coalesced) after a watched set changed.
func (w *Watcher) C() <-chan struct{} { return w.ch }

func (w *Watcher) poke() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Add watches more names. Names that are not valid topic levels are ignored
// (the template that uses them reports the error).
func (w *Watcher) Add(names ...string) {
	grew := false
	c := w.c
	c.mu.Lock()
	if w.closed {
		c.mu.Unlock()
		return
	}
	for _, n := range names {
		if w.names[n] || !protocol.ValidID(n) {
			continue
		}
		w.names[n] = true
		if c.watched[n] == 0 {
			grew = true
		}
		c.watched[n]++
	}
	c.mu.Unlock()
	if grew {
		select {
		case c.newNames <- struct{}{}:
		default:
		}
	}
}

// Known reports whether every watched name has a set (received or cached).
func (w *Watcher) Known() bool {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range w.names {
		if _, ok := c.sets[n]; !ok {
			return false
		}
	}
	return true
}

// Close stops watching.
func (w *Watcher) Close() {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	delete(c.watchers, w)
	for n := range w.names {
		if c.watched[n]--; c.watched[n] <= 0 {
			delete(c.watched, n)
		}
	}
}
