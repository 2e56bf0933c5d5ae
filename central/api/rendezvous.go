package api

import (
	"hash/fnv"
	"sort"
)

// rendezvous picks n of ids for key by rendezvous (highest random weight)
// hashing: each id scores hash(key, id) and the n highest win, best first.
// It is stable under membership change: removing an id changes only the
// picks that included it, and adding one only displaces picks it outranks.
// Clients that pass the same key get the same instances, which keeps
// connections (and caches) sticky without any state at central.
func rendezvous(key string, ids []string, n int) []string {
	if n <= 0 {
		return nil
	}
	type scored struct {
		id    string
		score uint64
	}
	all := make([]scored, len(ids))
	for i, id := range ids {
		all[i] = scored{id, rendezvousScore(key, id)}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].score != all[j].score {
			return all[i].score > all[j].score
		}
		return all[i].id < all[j].id
	})
	out := make([]string, 0, min(n, len(all)))
	for _, s := range all[:min(n, len(all))] {
		out = append(out, s.id)
	}
	return out
}

// rendezvousScore hashes key and id (NUL-separated, so ("ab","c") and
// ("a","bc") differ) with FNV-1a, then mixes the bits (splitmix64's
// finaliser) so similar IDs do not get similar scores.
func rendezvousScore(key, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(id))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
