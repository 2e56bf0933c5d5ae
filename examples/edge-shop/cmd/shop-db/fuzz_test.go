package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

// The database file is read back on every start: whatever it holds,
// openStore returns a store or an error, and a store it returns works.
func FuzzOpenStore(f *testing.F) {
	f.Add([]byte(`{"next_id":3,"orders":[{"id":1,"coffee_id":2,"quantity":1,"total":400},{"id":2,"coffee_id":1,"quantity":2,"total":700}]}`))
	f.Add([]byte(`{"next_id":-5,"orders":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"next_id":1,"orders":[{"id":1},{"id":7}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(t.TempDir(), "orders.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := openStore(file)
		if err != nil {
			return
		}
		n := s.count()
		o, err := s.add(shop.Order{CoffeeID: 1, Quantity: 1, Total: 350})
		if err != nil {
			t.Fatalf("add to a store read from %q: %v", data, err)
		}
		for _, old := range s.orders()[:n] {
			if old.ID == o.ID {
				t.Fatalf("new order reuses id %d of %+v", o.ID, old)
			}
		}
		if s.count() != n+1 || o.ID < 1 {
			t.Fatalf("after add: count %d (was %d), id %d", s.count(), n, o.ID)
		}
	})
}
