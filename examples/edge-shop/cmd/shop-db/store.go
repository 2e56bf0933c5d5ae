package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tether-edge/tether/examples/edge-shop/internal/shop"
)

// errNoOrder is returned for an order id that is not stored.
var errNoOrder = errors.New("no such order")

// menu is the shop's fixed list of coffees.
var menu = []shop.Coffee{
	{ID: 1, Name: "Packer Spiced Latte", Price: 350},
	{ID: 2, Name: "Vaulatte", Price: 400},
	{ID: 3, Name: "Nomadicano", Price: 300},
	{ID: 4, Name: "Tether Flat White", Price: 380},
}

func coffeeByID(id int) (shop.Coffee, bool) {
	for _, c := range menu {
		if c.ID == id {
			return c, true
		}
	}
	return shop.Coffee{}, false
}

// data is what the file holds.
type data struct {
	NextID int          `json:"next_id"`
	Orders []shop.Order `json:"orders"`
}

// store keeps orders in memory and in one JSON file.
type store struct {
	path string
	now  func() time.Time

	mu sync.Mutex // guards d and the file
	d  data
}

// openStore reads path (a missing file is an empty store) and makes its dir.
func openStore(path string) (*store, error) {
	s := &store{path: path, now: time.Now, d: data{NextID: 1}}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("database dir: %w", err)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read database: %w", err)
	}
	if err := json.Unmarshal(b, &s.d); err != nil {
		return nil, fmt.Errorf("database file %s is damaged (%v): move it away to start empty", path, err)
	}
	s.d.NextID = max(s.d.NextID, 1)
	for _, o := range s.d.Orders { // a hand-edited file must not make ids repeat
		s.d.NextID = max(s.d.NextID, o.ID+1)
	}
	return s, nil
}

func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d.Orders)
}

func (s *store) orders() []shop.Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shop.Order{}, s.d.Orders...)
}

func (s *store) order(id int) (shop.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.d.Orders {
		if o.ID == id {
			return o, nil
		}
	}
	return shop.Order{}, errNoOrder
}

// add stores o (its ID and Created are set here) and returns it once it is
// on disk.
func (s *store) add(o shop.Order) (shop.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.ID = s.d.NextID
	o.Created = s.now().UTC().Format(time.RFC3339)
	next := data{NextID: o.ID + 1, Orders: append(append([]shop.Order{}, s.d.Orders...), o)}
	if err := writeFileSync(s.path, next); err != nil {
		return shop.Order{}, err
	}
	s.d = next
	return o, nil
}

// writeFileSync writes v as JSON to path through a synced temporary file
// and a rename, then syncs the directory, so a crash leaves the old or the
// new file, never half of one.
func writeFileSync(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write database: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write database: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync database: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write database: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write database: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync database dir: %w", err)
	}
	defer d.Close()
	return d.Sync()
}
