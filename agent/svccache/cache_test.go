package svccache

import (
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/tether-edge/tether/agent/state"
	"github.com/tether-edge/tether/protocol"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := protocol.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func apiSet(index uint64, addrs ...string) *protocol.ServiceSet {
	s := &protocol.ServiceSet{V: protocol.Version, Name: "api", Index: index}
	for i, a := range addrs {
		s.Instances = append(s.Instances, protocol.ServiceInstance{ID: a, Address: a, Port: 8000 + i, NodeID: "n", AllocID: "a", Healthy: true})
	}
	return s
}

func TestDecode(t *testing.T) {
	wrongV := apiSet(1, "10.0.0.1")
	wrongV.V = 7
	badPort := apiSet(1, "10.0.0.1")
	badPort.Instances[0].Port = 70000
	noName := apiSet(1, "10.0.0.1")
	noName.Name = ""
	tests := []struct {
		name      string
		topic     string
		payload   []byte
		wantErr   bool
		instances int
	}{
		{"empty payload is zero instances", "api", nil, false, 0},
		{"valid", "api", enc(t, apiSet(3, "10.0.0.1", "10.0.0.2")), false, 2},
		{"no name takes the topic's", "api", enc(t, noName), false, 1},
		{"other service's set", "db", enc(t, apiSet(3, "10.0.0.1")), true, 0},
		{"garbage", "api", []byte("\xff\xfe"), true, 0},
		{"wrong version", "api", enc(t, wrongV), true, 0},
		{"port out of range", "api", enc(t, badPort), true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Decode(tc.topic, tc.payload)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("want ErrMalformed, got %v", err)
				}
				return
			}
			if err != nil || set.Name != tc.topic || len(set.Instances) != tc.instances {
				t.Fatalf("set %+v err %v", set, err)
			}
		})
	}
}

func fired(w *Watcher) bool {
	select {
	case <-w.C():
		return true
	default:
		return false
	}
}

func TestUpdateNotifiesWatchersOfChangesOnly(t *testing.T) {
	c := New(nil, quiet())
	w := c.Watch("api")
	other := c.Watch("db")
	if w.Known() {
		t.Fatal("known before any set")
	}
	select {
	case <-c.NewNames():
	default:
		t.Fatal("NewNames did not fire for a new name")
	}
	if got := c.Names(); len(got) != 2 || got[0] != "api" || got[1] != "db" {
		t.Fatalf("names %v", got)
	}
	if err := c.Update("api", enc(t, apiSet(1, "10.0.0.1"))); err != nil {
		t.Fatal(err)
	}
	if !fired(w) || fired(other) || !w.Known() {
		t.Fatal("watcher of api not notified, or db notified")
	}
	if err := c.Update("api", enc(t, apiSet(1, "10.0.0.1"))); err != nil {
		t.Fatal(err)
	}
	if fired(w) {
		t.Fatal("notified for an identical set")
	}
	if err := c.Update("api", []byte("junk")); err == nil || c.Malformed() != 1 {
		t.Fatalf("malformed payload: err %v, count %d", err, c.Malformed())
	}
	if set, _ := c.Get("api"); len(set.Instances) != 1 {
		t.Fatalf("malformed payload replaced the set: %+v", set)
	}
	if err := c.Update("api", nil); err != nil {
		t.Fatal(err)
	}
	if set, known := c.Get("api"); !known || len(set.Instances) != 0 || !fired(w) {
		t.Fatalf("empty payload: %+v known %v", set, known)
	}
	w.Close()
	other.Close()
	if got := c.Names(); len(got) != 0 {
		t.Fatalf("names after close %v", got)
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	st, _, err := state.Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	c := New(st, quiet())
	if err := c.Update("api", enc(t, apiSet(4, "10.0.0.7"))); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, _, err = state.Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c = New(st, quiet())
	set, known := c.Get("api")
	if !known || set.Index != 4 || len(set.Instances) != 1 || set.Instances[0].Address != "10.0.0.7" {
		t.Fatalf("after restart: %+v known %v", set, known)
	}
	if !c.Watch("api").Known() {
		t.Fatal("cached set not known to a watcher")
	}
}

// TestStaleSetsIgnored: a set with a lower index than the one held, or
// the held index with other instances, is a replay: refused, counted, and
// the held set stays. A cleared service keeps its index, so the set it
// replaced cannot come back either; a newer set always applies.
func TestStaleSetsIgnored(t *testing.T) {
	c := New(nil, quiet())
	w := c.Watch("api")
	mustUpdate := func(payload []byte) {
		t.Helper()
		if err := c.Update("api", payload); err != nil {
			t.Fatal(err)
		}
	}
	stale := func(payload []byte, want uint64) {
		t.Helper()
		if err := c.Update("api", payload); !errors.Is(err, ErrStale) || c.Stale() != want {
			t.Fatalf("err %v, stale %d; want ErrStale and %d", err, c.Stale(), want)
		}
	}
	held := func(addr string) {
		t.Helper()
		set, _ := c.Get("api")
		got := ""
		if len(set.Instances) > 0 {
			got = set.Instances[0].Address
		}
		if got != addr {
			t.Fatalf("held %q, want %q", got, addr)
		}
	}
	mustUpdate(enc(t, apiSet(5, "10.0.0.5")))
	fired(w)
	stale(enc(t, apiSet(3, "10.0.0.3")), 1)
	stale(enc(t, apiSet(5, "10.0.0.6")), 2)
	stale(enc(t, apiSet(0, "10.0.0.0")), 3)
	held("10.0.0.5")
	if fired(w) {
		t.Fatal("watcher notified of a stale set")
	}
	mustUpdate(enc(t, apiSet(5, "10.0.0.5"))) // the same set again (a resubscribe)
	mustUpdate(nil)                           // central cleared the service
	held("")
	stale(enc(t, apiSet(5, "10.0.0.5")), 4)
	held("")
	mustUpdate(enc(t, apiSet(8, "10.0.0.8")))
	held("10.0.0.8")
	if !fired(w) {
		t.Fatal("watcher not notified of the newer set")
	}
	// Sets without an index (index 0) carry no order among themselves.
	d := New(nil, quiet())
	for _, addr := range []string{"10.0.1.1", "10.0.1.2"} {
		if err := d.Update("api", enc(t, apiSet(0, addr))); err != nil {
			t.Fatal(err)
		}
	}
}
