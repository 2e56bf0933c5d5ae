package server

import "time"

// liveness tracks heartbeat deadlines in a timing wheel of one-second
// buckets: a heartbeat moves a node between two buckets in O(1), and a tick
// looks only at the buckets that are due, never at every node.
// It is owned by the leader loop; it has no lock.
type liveness struct {
	ttl      time.Duration
	bucketOf map[string]int64              // node → second its deadline falls in
	buckets  map[int64]map[string]struct{} // second → nodes due then
	next     int64                         // first second not yet expired
}

func newLiveness(ttl time.Duration) *liveness {
	return &liveness{ttl: ttl, bucketOf: map[string]int64{}, buckets: map[int64]map[string]struct{}{}}
}

// touch records a sign of life from node at now.
func (l *liveness) touch(node string, now time.Time) {
	due := now.Add(l.ttl).Unix() + 1 // round up: never expire early
	if old, ok := l.bucketOf[node]; ok {
		if old == due {
			return
		}
		delete(l.buckets[old], node)
		if len(l.buckets[old]) == 0 {
			delete(l.buckets, old)
		}
	}
	b := l.buckets[due]
	if b == nil {
		b = map[string]struct{}{}
		l.buckets[due] = b
	}
	b[node] = struct{}{}
	l.bucketOf[node] = due
	if l.next == 0 {
		l.next = now.Unix()
	}
}

// tracked reports whether node is being watched.
func (l *liveness) tracked(node string) bool {
	_, ok := l.bucketOf[node]
	return ok
}

// forget stops watching node.
func (l *liveness) forget(node string) {
	if old, ok := l.bucketOf[node]; ok {
		delete(l.buckets[old], node)
		if len(l.buckets[old]) == 0 {
			delete(l.buckets, old)
		}
		delete(l.bucketOf, node)
	}
}

// expired removes and returns the nodes whose deadline passed by now.
func (l *liveness) expired(now time.Time) []string {
	var out []string
	sec := now.Unix()
	if l.next == 0 {
		l.next = sec
	}
	for ; l.next <= sec; l.next++ {
		for node := range l.buckets[l.next] {
			out = append(out, node)
			delete(l.bucketOf, node)
		}
		delete(l.buckets, l.next)
	}
	return out
}

func (l *liveness) len() int { return len(l.bucketOf) }
