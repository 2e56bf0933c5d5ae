package session

import (
	"math/rand/v2"
	"sync"
	"time"
)

// ReconnectBase is the ceiling of the first wait before a reconnect
// attempt; each failed attempt doubles it up to MaxReconnect.
const ReconnectBase = time.Second

// backoff is the wait before each reconnect attempt: "full jitter", a
// uniformly random wait in [0, ceiling), the ceiling doubling from
// ReconnectBase up to max with each attempt of one outage. Without the
// randomness every agent that lost the same broker at the same instant
// would try again at the same instants (0, 1, 3, 7, 15 s...), and a
// broker back after 9 s would meet them all at once at 15 s; with it
// they arrive spread over the ceiling, and the first ones earlier.
//
// The ceiling is reset by a connection that lasted at least max: a broker
// that accepts and then drops the agent at once (a refused subscription, a
// full broker) keeps getting slower attempts rather than one a second.
type backoff struct {
	base, max time.Duration
	randN     func(n int64) int64 // uniform in [0, n); tests inject a fixed source

	mu          sync.Mutex
	ceiling     time.Duration // of the last wait; 0: none yet
	connectedAt time.Time     // of the current or last connection; zero once a reconnect began
}

func newBackoff(base, max time.Duration, randN func(int64) int64) *backoff {
	if randN == nil {
		randN = rand.Int64N
	}
	return &backoff{base: min(base, max), max: max, randN: randN}
}

// connected records the start of a connection.
func (b *backoff) connected(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.connectedAt = now
}

// next is the wait before the next reconnect attempt, now.
func (b *backoff) next(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.connectedAt.IsZero() {
		if now.Sub(b.connectedAt) >= b.max {
			b.ceiling = 0 // a stable connection ended: a new outage
		}
		b.connectedAt = time.Time{}
	}
	if b.ceiling == 0 {
		b.ceiling = b.base
	} else {
		b.ceiling = min(2*b.ceiling, b.max)
	}
	return time.Duration(b.randN(int64(b.ceiling)))
}

// wait sleeps d, or less if the session closes meanwhile.
func (s *Session) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closed:
	}
}
