package template

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/svccache"
	"github.com/tether-edge/tether/protocol"
)

// A service change that lands while the first render runs (an instance
// registers unhealthy and turns healthy moments later, as a consumer task
// starts) must not be lost: Run renders again and the file catches up.
func TestChangeDuringPrerenderIsNotLost(t *testing.T) {
	for i := 0; i < 40; i++ {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "local"), 0o755)
		c := svccache.New(nil, nil)
		set := func(healthy bool, idx uint64) {
			c.Put(protocol.ServiceSet{V: protocol.Version, Name: "pay", Index: idx,
				Instances: []protocol.ServiceInstance{{ID: "a", Address: "127.0.0.1", Port: 5, Healthy: healthy}}})
		}
		m, err := New(Config{
			Templates: []protocol.Template{{Data: `{{ range service "pay" }}P="{{.Address}}:{{.Port}}"{{ end }}`,
				Destination: "local/p.env", Env: true, ChangeMode: "noop"}},
			Paths:    Paths{TaskDir: dir, AllocDir: dir},
			Services: c,
		})
		if err != nil {
			t.Fatal(err)
		}
		set(false, 1)
		ready := make(chan struct{})
		go func() {
			<-ready
			set(true, 2) // races with the render below, on purpose
		}()
		close(ready)
		if _, err := m.Prerender(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go m.Run(ctx)
		path := filepath.Join(dir, "local/p.env")
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if len(b) > 0 {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("trial %d: the healthy instance never reached the file: %v", i, fmt.Sprint(string(b)))
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		m.Close()
	}
}
