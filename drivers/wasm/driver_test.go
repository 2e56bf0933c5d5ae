package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"

	"github.com/tether-edge/tether/drivers/logfile"
)

func TestRunsGuestWithArgsEnvAndLogs(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "tool"), "echo", "one", "two words")
	cfg.Env["GREETING"] = "hi there"
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, h, 10*time.Second)
	if !res.Successful() {
		t.Fatalf("result %+v, stderr %q", res, readFile(t, cfg.StderrPath+".0"))
	}
	if got, want := readFile(t, cfg.StdoutPath+".0"), "arg:one\narg:two words\nenv:hi there\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := readFile(t, cfg.StderrPath+".0"); got != "to stderr\n" {
		t.Errorf("stderr = %q", got)
	}
	if _, open := <-h.Wait(); open {
		t.Error("Wait channel not closed after the result")
	}
	if st := h.State(); st.Driver != "wasm" || st.TaskID != cfg.ID || st.StartedAt == 0 {
		t.Errorf("state = %+v", st)
	}
}

func TestExitCodeReported(t *testing.T) {
	d := newDriver(t, Options{})
	for _, code := range []int{0, 1, 42} {
		cfg := newTask(t, guest(t, "tool"), "exit", itoa(code))
		h, err := d.Start(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res := waitExit(t, h, 10*time.Second); res.ExitCode != code || res.Signal != 0 || res.Err != nil {
			t.Errorf("exit %d: result %+v", code, res)
		}
	}
}

func TestDirsPreopened(t *testing.T) {
	d := newDriver(t, Options{})
	// /alloc is the alloc dir: a file written there appears on the host.
	cfg := newTask(t, guest(t, "tool"), "write", "/alloc/out.txt", "shared")
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, 10*time.Second); !res.Successful() {
		t.Fatalf("write: %+v, stderr %q", res, readFile(t, cfg.StderrPath+".0"))
	}
	if got := readFile(t, filepath.Join(cfg.AllocDir, "out.txt")); got != "shared" {
		t.Errorf("alloc/out.txt = %q", got)
	}
	// /local and /secrets are the task's dirs.
	for dir, host := range map[string]string{"/local": cfg.LocalDir, "/secrets": cfg.SecretDir} {
		if err := os.WriteFile(filepath.Join(host, "in.txt"), []byte("from "+dir), 0o644); err != nil {
			t.Fatal(err)
		}
		c := newTask(t, guest(t, "tool"), "cat", dir+"/in.txt")
		c.LocalDir, c.SecretDir = cfg.LocalDir, cfg.SecretDir
		h, err := d.Start(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if res := waitExit(t, h, 10*time.Second); !res.Successful() {
			t.Fatalf("cat %s: %+v, stderr %q", dir, res, readFile(t, c.StderrPath+".0"))
		}
		if got := readFile(t, c.StdoutPath+".0"); got != "from "+dir {
			t.Errorf("cat %s = %q", dir, got)
		}
	}
	// Nothing outside the pre-opened dirs is visible.
	c := newTask(t, guest(t, "tool"), "cat", "/etc/hostname")
	h, err = d.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, 10*time.Second); res.ExitCode != 2 {
		t.Errorf("cat /etc/hostname: %+v, stdout %q", res, readFile(t, c.StdoutPath+".0"))
	}
}

func TestRelativeModuleUnderTaskDir(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, "local/app.wasm", "exit", "7")
	bin, err := os.ReadFile(guest(t, "tool"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.TaskDir, "local", "app.wasm"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, 10*time.Second); res.ExitCode != 7 {
		t.Errorf("result %+v", res)
	}
}

func TestStopEndsGuests(t *testing.T) {
	d := newDriver(t, Options{})
	for _, tc := range []struct {
		name, guest string
		args        []string
	}{
		{"C loop without host calls", "tool", []string{"spin"}},
		{"WAT branch loop", "loop", nil},
		{"sleeping in the host", "tool", []string{"sleep"}},
		{"Go guest in time.Sleep", "go", []string{"-sleep", "1h"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newTask(t, guest(t, tc.guest), tc.args...)
			cfg.MemoryMB = 128
			h, err := d.Start(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-h.Wait():
				t.Fatalf("exited before Stop: %+v", res)
			default:
			}
			start := time.Now()
			if err := h.Stop(5*time.Second, "SIGTERM"); err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("Stop took %v", el)
			}
			res := waitExit(t, h, time.Second)
			if res.ExitCode != 137 || res.Signal != 9 || res.Err != nil {
				t.Errorf("result after Stop = %+v, want exit 137 signal 9", res)
			}
			if err := h.Stop(time.Second, ""); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestBadModules(t *testing.T) {
	d := newDriver(t, Options{})
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "app.wasm")
	os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o644)
	wat := filepath.Join(dir, "app.wat")
	os.WriteFile(wat, []byte("(module)\n"), 0o644)
	truncated := filepath.Join(dir, "trunc.wasm")
	bin, _ := os.ReadFile(guest(t, "tool"))
	os.WriteFile(truncated, bin[:len(bin)/2], 0o644)

	for _, tc := range []struct {
		name   string
		module string
		cfg    map[string]any
		mem    int
		is     error
		want   string
	}{
		{"missing", filepath.Join(dir, "nope.wasm"), nil, 64, ErrModuleNotFound, "artifact"},
		{"not wasm", notWasm, nil, 64, ErrNotWasm, "GOOS=wasip1"},
		{"wat text", wat, nil, 64, ErrNotWasm, "wat2wasm"},
		{"truncated", truncated, nil, 64, ErrBadModule, "WASI preview 1"},
		{"initial memory over limit", guest(t, "bigmem"), nil, 16, ErrMemoryLimit, "raise resources.memory"},
		{"imports something else", guest(t, "badimport"), nil, 64, ErrBadModule, "imports only wasi_snapshot_preview1"},
		{"no such entrypoint", guest(t, "tool"), map[string]any{"entrypoint": "run"}, 64, nil, `does not export entrypoint "run"`},
		{"unknown key", guest(t, "tool"), map[string]any{"modul": "x"}, 64, nil, `unknown config key "modul"`},
		{"module not a string", "", map[string]any{"module": []any{"a"}}, 64, nil, `"module" must be a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newTask(t, tc.module)
			for k, v := range tc.cfg {
				cfg.Config[k] = v
			}
			cfg.MemoryMB = tc.mem
			h, err := d.Start(context.Background(), cfg)
			if err == nil {
				h.Stop(time.Second, "")
				t.Fatal("Start succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestGuestOutOfMemory(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "tool"), "grow")
	cfg.MemoryMB = 16
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, h, 20*time.Second)
	if !res.OOMKilled || res.Successful() {
		t.Errorf("result %+v, want OOMKilled", res)
	}
	stderr := readFile(t, cfg.StderrPath+".0")
	t.Logf("stderr: %q", stderr)
	if !strings.Contains(stderr, "ran out of memory") || !strings.Contains(stderr, "of the 16 MiB") {
		t.Errorf("stderr does not explain: %q", stderr)
	}
}

func TestTrapReported(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "tool"), "trap")
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, h, 10*time.Second)
	if res.ExitCode != 134 || res.OOMKilled || res.Err != nil {
		t.Errorf("result %+v, want exit 134", res)
	}
	if s := readFile(t, cfg.StderrPath+".0"); !strings.Contains(s, "guest crashed") || !strings.Contains(s, "unreachable") {
		t.Errorf("stderr = %q", s)
	}
}

func TestRecoverSaysGone(t *testing.T) {
	d := newDriver(t, Options{})
	_, err := d.Recover(context.Background(), drivers.HandleState{Driver: "wasm", TaskID: "a1/web"})
	if !errors.Is(err, drivers.ErrTaskGone) || !strings.Contains(err.Error(), "restart with it") {
		t.Errorf("Recover = %v", err)
	}
}

func TestDetect(t *testing.T) {
	d := newDriver(t, Options{})
	attrs, err := d.Detect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if attrs["driver.wasm"] != "1" || attrs["driver.wasm.engine"] != d.Engine() || attrs["driver.wasm.version"] != "v1.12.0" {
		t.Errorf("attrs = %v", attrs)
	}
}

func TestInterpreterRunsGuest(t *testing.T) {
	d := newDriver(t, Options{Engine: EngineInterpreter})
	cfg := newTask(t, guest(t, "tool"), "exit", "5")
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, 20*time.Second); res.ExitCode != 5 {
		t.Errorf("result %+v", res)
	}
	// A spinning guest stops under the interpreter too.
	cfg = newTask(t, guest(t, "loop"))
	h, err = d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(5*time.Second, ""); err != nil {
		t.Fatal(err)
	}
}

func TestGoGuest(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "go"), "-exit", "4", "x", "y")
	cfg.Env["GREETING"] = "gopher"
	cfg.MemoryMB = 128
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, h, 30*time.Second)
	if res.ExitCode != 4 {
		t.Fatalf("result %+v, stderr %q", res, readFile(t, cfg.StderrPath+".0"))
	}
	if got := readFile(t, cfg.StdoutPath+".0"); got != "go guest args: [x y]\nenv: gopher\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := readFile(t, filepath.Join(cfg.AllocDir, "go-guest.txt")); got != "written by go" {
		t.Errorf("alloc file = %q", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestWazeroVersionMatchesGoMod(t *testing.T) {
	gomod := readFile(t, filepath.Join("..", "..", "go.mod"))
	if !strings.Contains(gomod, "github.com/tetratelabs/wazero "+wazeroModuleVersion) {
		t.Errorf("go.mod does not require wazero %s: update wazeroModuleVersion", wazeroModuleVersion)
	}
}

func TestConcurrentStartsShareTheModule(t *testing.T) {
	concurrentStarts(t, newDriver(t, Options{}), guest(t, "tool"), 8)
}

// The first starts of a module after an agent restart load it from the
// file cache, concurrently: wazero 1.12 publishes such a module before its
// entry preambles exist, and an unserialised second start panicked
// (compile.go). Each round is a fresh driver (an empty in-memory cache) on
// a file cache that already holds the module.
func TestConcurrentFirstStartsFromTheFileCache(t *testing.T) {
	dir := t.TempDir()
	mod := guest(t, "tool")
	concurrentStarts(t, newDriver(t, Options{CacheDir: dir}), mod, 1) // fills the file cache
	for range 5 {
		concurrentStarts(t, newDriver(t, Options{CacheDir: dir}), mod, 16)
	}
}

// concurrentStarts starts n tasks of mod at once, each exiting with its
// index, and checks every exit code.
func concurrentStarts(t *testing.T, d *Driver, mod string, n int) {
	t.Helper()
	type out struct {
		code int
		res  drivers.ExitResult
		err  error
	}
	results := make(chan out, n)
	for i := 0; i < n; i++ {
		cfg := newTask(t, mod, "exit", strconv.Itoa(i))
		go func(code int) {
			h, err := d.Start(context.Background(), cfg)
			if err != nil {
				results <- out{code: code, err: err}
				return
			}
			results <- out{code: code, res: <-h.Wait()}
		}(i)
	}
	for i := 0; i < n; i++ {
		select {
		case o := <-results:
			if o.err != nil {
				t.Fatalf("start %d: %v", o.code, o.err)
			}
			if o.res.ExitCode != o.code {
				t.Errorf("task %d exited %+v", o.code, o.res)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("tasks did not finish")
		}
	}
}

// A guest's output goes through the rotating writer: files of at most
// max_file_size, the oldest removed past max_files.
func TestGuestLogsRotate(t *testing.T) {
	d := newDriver(t, Options{})
	cfg := newTask(t, guest(t, "tool"), "echo", "one", "two words")
	cfg.Env["GREETING"] = "hi there"
	cfg.Logs = logfile.Policy{MaxFiles: 2, MaxFileSize: 10}
	h, err := d.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, h, 10*time.Second); !res.Successful() {
		t.Fatalf("result %+v", res)
	}
	// "arg:one\narg:two words\nenv:hi there\n" is 35 bytes: files 0 to 3.
	idxs, err := logfile.Indexes(cfg.StdoutPath)
	if err != nil || len(idxs) != 2 || idxs[0] != 2 || idxs[1] != 3 {
		t.Fatalf("stdout files %v (%v), want .2 and .3", idxs, err)
	}
	if got, want := readFile(t, cfg.StdoutPath+".2")+readFile(t, cfg.StdoutPath+".3"), "arg:one\narg:two words\nenv:hi there\n"[20:]; got != want {
		t.Errorf("kept stdout = %q, want the last 15 bytes %q", got, want)
	}
}
