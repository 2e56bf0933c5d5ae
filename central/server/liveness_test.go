package server

import (
	"slices"
	"testing"
	"time"
)

func TestLivenessExpiresOnlyMissedNodes(t *testing.T) {
	l := newLiveness(10 * time.Second)
	t0 := time.Unix(1_000_000, 0)
	l.touch("a", t0)
	l.touch("b", t0)
	if got := l.expired(t0.Add(9 * time.Second)); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	l.touch("b", t0.Add(9*time.Second)) // b keeps beating
	got := l.expired(t0.Add(12 * time.Second))
	if !slices.Equal(got, []string{"a"}) {
		t.Fatalf("expired = %v, want [a]", got)
	}
	if l.tracked("a") || !l.tracked("b") {
		t.Fatalf("tracking after expiry wrong: a=%v b=%v", l.tracked("a"), l.tracked("b"))
	}
	if got := l.expired(t0.Add(12 * time.Second)); len(got) != 0 {
		t.Fatalf("expired twice: %v", got)
	}
	got = l.expired(t0.Add(30 * time.Second))
	if !slices.Equal(got, []string{"b"}) {
		t.Fatalf("expired = %v, want [b]", got)
	}
	l.touch("c", t0.Add(31*time.Second))
	l.forget("c")
	if got := l.expired(t0.Add(60 * time.Second)); len(got) != 0 || l.len() != 0 {
		t.Fatalf("forgotten node expired: %v (len %d)", got, l.len())
	}
}

func BenchmarkLivenessTouch(b *testing.B) {
	l := newLiveness(15 * time.Second)
	now := time.Unix(1_000_000, 0)
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + time.Duration(i).String()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.touch(ids[i%len(ids)], now.Add(time.Duration(i)*time.Millisecond))
	}
}

func TestOutboxWatchAsksForResend(t *testing.T) {
	o := newOutboxWatch()
	t0 := time.Unix(1000, 0)
	ttl := 3 * time.Second
	steps := []struct {
		at     time.Duration
		outbox int
		want   bool
	}{
		{0, 2, true},                // first heartbeat this leader hears, outbox not empty
		{time.Second, 2, false},     // just asked
		{2 * time.Second, 0, false}, // drained
		{3 * time.Second, 1, false}, // new update in flight
		{5 * time.Second, 1, false}, // 2s stuck
		{6 * time.Second, 1, true},  // 3s stuck, last ask 6s ago
		{9 * time.Second, 1, true},  // stuck again, a ttl later
		{10 * time.Second, 1, false},
	}
	for i, st := range steps {
		if got := o.check("n", st.outbox, t0.Add(st.at), ttl); got != st.want {
			t.Errorf("step %d (at %v, outbox %d): ask = %v, want %v", i, st.at, st.outbox, got, st.want)
		}
	}
	if o.check("quiet", 0, t0, ttl) {
		t.Errorf("a node with an empty outbox was asked to resend")
	}
	// A busy node: its outbox is never empty, but its updates keep coming.
	for i := range 20 {
		at := t0.Add(time.Duration(i) * time.Second)
		o.sawUpdate("busy", at)
		if o.check("busy", 5, at.Add(500*time.Millisecond), ttl) {
			t.Fatalf("a node whose updates keep arriving was asked to resend (at %ds)", i)
		}
	}
	// It goes quiet with updates pending: asked once outboxStuck passed.
	quiet := t0.Add(20 * time.Second)
	if o.check("busy", 5, quiet.Add(time.Second), ttl) {
		t.Errorf("asked after 1s of silence")
	}
	if !o.check("busy", 5, quiet.Add(outboxStuck), ttl) {
		t.Errorf("not asked after %v of silence with updates pending", outboxStuck)
	}
}
