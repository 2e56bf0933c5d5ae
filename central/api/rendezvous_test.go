package api

import (
	"fmt"
	"slices"
	"testing"
)

func TestRendezvousPicks(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		n    int
		want int
	}{{0, 0}, {-1, 0}, {1, 1}, {3, 3}, {5, 5}, {9, 5}} {
		got := rendezvous("k", ids, tc.n)
		if len(got) != tc.want {
			t.Errorf("n=%d: got %d picks, want %d", tc.n, len(got), tc.want)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] || !slices.Contains(ids, id) {
				t.Errorf("n=%d: bad pick %q in %v", tc.n, id, got)
			}
			seen[id] = true
		}
	}
	// Deterministic, independent of input order, and prefix-consistent.
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	if a, b := rendezvous("k", ids, 3), rendezvous("k", rev, 3); !slices.Equal(a, b) {
		t.Errorf("order-dependent: %v vs %v", a, b)
	}
	if a, b := rendezvous("k", ids, 2), rendezvous("k", ids, 4); !slices.Equal(a, b[:2]) {
		t.Errorf("top 2 %v not a prefix of top 4 %v", a, b)
	}
}

// Removing one instance changes only the choices that included it: every
// key whose pick did not contain the removed ID keeps the same pick.
func TestRendezvousStableUnderRemoval(t *testing.T) {
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("_tether-alloc%d-server-api-http", i))
	}
	const n = 2
	for removed := range ids {
		rest := slices.Delete(slices.Clone(ids), removed, removed+1)
		moved := 0
		for k := range 500 {
			key := fmt.Sprintf("client-%d", k)
			before := rendezvous(key, ids, n)
			after := rendezvous(key, rest, n)
			if !slices.Contains(before, ids[removed]) {
				if !slices.Equal(before, after) {
					t.Fatalf("key %s: %v -> %v though %s was not chosen", key, before, after, ids[removed])
				}
				continue
			}
			moved++
			// The survivors of the old pick stay chosen.
			for _, id := range before {
				if id != ids[removed] && !slices.Contains(after, id) {
					t.Fatalf("key %s: survivor %s dropped: %v -> %v", key, id, before, after)
				}
			}
		}
		// About n/len(ids) of the keys had it; a broken hash would move all or none.
		if moved == 0 || moved > 250 {
			t.Errorf("removing %s moved %d of 500 keys, want about 100", ids[removed], moved)
		}
	}
}

// Picks spread: with one pick each over many keys, every instance gets some.
func TestRendezvousSpreads(t *testing.T) {
	ids := []string{"i1", "i2", "i3", "i4"}
	count := map[string]int{}
	for k := range 4000 {
		count[rendezvous(fmt.Sprint(k), ids, 1)[0]]++
	}
	for _, id := range ids {
		if count[id] < 800 || count[id] > 1200 {
			t.Errorf("%s chosen %d of 4000 times, want about 1000: %v", id, count[id], count)
		}
	}
}
