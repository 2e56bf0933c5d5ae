package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/logfile"
	"github.com/tether-edge/tether/protocol"
)

// chunkSink collects what streamLog sends.
type chunkSink struct {
	mu     sync.Mutex // guards chunks
	chunks []*protocol.LogsChunk
}

func (c *chunkSink) send(ch *protocol.LogsChunk) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *ch
	cp.Data = append([]byte(nil), ch.Data...) // valid only during send
	c.chunks = append(c.chunks, &cp)
	return nil
}

func (c *chunkSink) text() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	eof := false
	for i, ch := range c.chunks {
		if ch.Seq != uint64(i) {
			return "bad seq", false
		}
		b.Write(ch.Data)
		eof = eof || ch.EOF
	}
	return b.String(), eof
}

// logFile creates the shared dir of an alloc with logs/<name> holding
// text; it returns the shared dir.
func logFile(t *testing.T, name, text string) string {
	t.Helper()
	shared := t.TempDir()
	os.MkdirAll(filepath.Join(shared, "logs"), 0o755)
	if err := os.WriteFile(filepath.Join(shared, "logs", name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return shared
}

func TestStreamLogWholeFileInChunks(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3000) // 48000 bytes: 3 chunks
	shared := logFile(t, "web.stdout.0", big)
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().UnixNano())
	if err := streamLog(context.Background(), shared, "logs/web.stdout", logfile.Policy{}, protocol.LogsRequest{}, s, sink.send); err != nil {
		t.Fatal(err)
	}
	got, eof := sink.text()
	if got != big || !eof || len(sink.chunks) != 3 {
		t.Errorf("got %d bytes in %d chunks, eof %v; want %d bytes, 3 chunks, eof", len(got), len(sink.chunks), eof, len(big))
	}
}

func TestStreamLogMissingFileIsEmpty(t *testing.T) {
	var sink chunkSink
	s := &logStream{}
	if err := streamLog(context.Background(), filepath.Join(t.TempDir(), "none"), "logs/web.stdout", logfile.Policy{}, protocol.LogsRequest{}, s, sink.send); err != nil {
		t.Fatal(err)
	}
	if got, eof := sink.text(); got != "" || !eof {
		t.Errorf("got %q eof %v, want empty with eof", got, eof)
	}
}

func TestStreamLogFollowsAppendsUntilCancelled(t *testing.T) {
	shared := logFile(t, "web.stdout.0", "one\ntwo\n")
	path := filepath.Join(shared, "logs", "web.stdout.0")
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- streamLog(ctx, shared, "logs/web.stdout", logfile.Policy{}, protocol.LogsRequest{Follow: true, Lines: 1}, s, sink.send)
	}()
	eventuallyLogs(t, func() bool { got, _ := sink.text(); return got == "two\n" })
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("three\n")
	f.Close()
	eventuallyLogs(t, func() bool { got, _ := sink.text(); return got == "two\nthree\n" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, eof := sink.text(); !eof {
		t.Error("cancelled follow sent no EOF")
	}
}

func TestStreamLogFollowEndsWithoutRenewal(t *testing.T) {
	shared := logFile(t, "web.stdout.0", "")
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().Add(-time.Hour).UnixNano()) // never renewed
	if err := streamLog(context.Background(), shared, "logs/web.stdout", logfile.Policy{}, protocol.LogsRequest{Follow: true}, s, sink.send); err != nil {
		t.Fatal(err)
	}
	if got, eof := sink.text(); got != "" || !eof {
		t.Errorf("got %q eof %v, want an empty first chunk and EOF", got, eof)
	}
}

func eventuallyLogs(t *testing.T, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// A task that replaces its log file, or the logs dir, with a symlink to a
// file it may not read does not get the agent to stream that file.
func TestStreamLogRefusesSymlinkOut(t *testing.T) {
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "web.stdout.0")
	os.WriteFile(secret, []byte("root:SECRET"), 0o600)
	for _, plant := range []func(logs string){
		func(logs string) { os.MkdirAll(logs, 0o755); os.Symlink(secret, filepath.Join(logs, "web.stdout.0")) },
		func(logs string) { os.Symlink(secretDir, logs) },
	} {
		alloc := filepath.Join(t.TempDir(), "alloc")
		os.MkdirAll(alloc, 0o755)
		logs := filepath.Join(alloc, "logs")
		plant(logs)
		var sink chunkSink
		s := &logStream{}
		s.renewed.Store(time.Now().UnixNano())
		if err := streamLog(context.Background(), alloc, "logs/web.stdout", logfile.Policy{}, protocol.LogsRequest{}, s, sink.send); err != nil {
			t.Fatal(err)
		}
		got, eof := sink.text()
		if strings.Contains(got, "SECRET") || !eof {
			t.Fatalf("streamed %q (eof %v) through a symlink out of the alloc dir", got, eof)
		}
	}
}

// alloc logs spans rotated files: -n counts lines across them, and a
// follow goes on into the files of later rotations, by either kind.
func TestStreamLogAcrossRotations(t *testing.T) {
	shared := t.TempDir()
	p := logfile.Policy{MaxFiles: 100, MaxFileSize: 100}
	w, err := logfile.Open(filepath.Join(shared, "logs", "web.stdout"), p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	line := func(i int) string { return fmt.Sprintf("line %04d\n", i) } // 10 bytes
	for i := 0; i < 35; i++ {
		w.Write([]byte(line(i)))
	}
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- streamLog(ctx, shared, "logs/web.stdout", p, protocol.LogsRequest{Follow: true, Lines: 12}, s, sink.send)
	}()
	want := ""
	for i := 23; i < 35; i++ { // 12 lines from web.stdout.2 and .3
		want += line(i)
	}
	eventuallyLogs(t, func() bool { got, _ := sink.text(); return got == want })
	for i := 35; i < 60; i++ { // into web.stdout.4 and .5
		w.Write([]byte(line(i)))
		want += line(i)
	}
	eventuallyLogs(t, func() bool { got, _ := sink.text(); return got == want })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := logfile.Indexes(filepath.Join(shared, "logs", "web.stdout")); len(n) != 6 {
		t.Fatalf("files %v, want 6", n)
	}
}
