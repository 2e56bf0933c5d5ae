package wasm

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// cacheFiles lists the files wazero wrote under dir with their mod times.
func cacheFiles(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			fi, _ := e.Info()
			out[p] = fi.ModTime()
		}
		return nil
	})
	return out
}

func TestCompilationCacheSurvivesRestart(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "wasm-cache")
	run := func() {
		d := newDriver(t, Options{CacheDir: cache})
		testhost.Require(t, d.Engine() == EngineCompiler, "wazero's compiler engine (this host gets the "+d.Engine()+", which compiles nothing to cache)",
			"run on amd64 or arm64")
		h, err := d.Start(context.Background(), newTask(t, guest(t, "tool"), "exit", "0"))
		if err != nil {
			t.Fatal(err)
		}
		if res := waitExit(t, h, 10*time.Second); !res.Successful() {
			t.Fatalf("result %+v", res)
		}
		d.Close(context.Background())
	}
	run()
	first := cacheFiles(t, cache)
	if len(first) == 0 {
		t.Fatalf("no compiled code written to %s", cache)
	}
	run() // a restarted agent: a new Driver on the same dir
	second := cacheFiles(t, cache)
	if len(second) != len(first) {
		t.Errorf("cache files %d -> %d: the module was compiled again", len(first), len(second))
	}
	for p, mt := range first {
		if !second[p].Equal(mt) {
			t.Errorf("%s rewritten", p)
		}
	}
}

func TestNewFailsOnUnusableCacheDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := New(Options{CacheDir: filepath.Join(file, "sub")}); err == nil {
		t.Fatal("New succeeded with a cache dir under a file")
	}
}
