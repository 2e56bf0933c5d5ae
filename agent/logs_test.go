package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

func TestTailOffset(t *testing.T) {
	tests := []struct {
		text string
		n    int
		want string
	}{
		{"a\nb\nc\n", 1, "c\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
		{strings.Repeat("x", 20000) + "\nlast\n", 1, "last\n"},
		{"first\n" + strings.Repeat("y\n", 9000), 9000, strings.Repeat("y\n", 9000)},
	}
	for i, tt := range tests {
		path := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(path)
		off, err := tailOffset(f, tt.n)
		f.Close()
		if err != nil || tt.text[off:] != tt.want {
			t.Errorf("%d: tail %d of %q = %q (%v), want %q", i, tt.n, trunc(tt.text), trunc(tt.text[off:]), err, trunc(tt.want))
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

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

func TestStreamLogWholeFileInChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.stdout.0")
	big := strings.Repeat("0123456789abcdef", 3000) // 48000 bytes: 3 chunks
	os.WriteFile(path, []byte(big), 0o644)
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().UnixNano())
	if err := streamLog(context.Background(), path, protocol.LogsRequest{}, s, sink.send); err != nil {
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
	if err := streamLog(context.Background(), filepath.Join(t.TempDir(), "none"), protocol.LogsRequest{}, s, sink.send); err != nil {
		t.Fatal(err)
	}
	if got, eof := sink.text(); got != "" || !eof {
		t.Errorf("got %q eof %v, want empty with eof", got, eof)
	}
}

func TestStreamLogFollowsAppendsUntilCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "web.stdout.0")
	os.WriteFile(path, []byte("one\ntwo\n"), 0o644)
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- streamLog(ctx, path, protocol.LogsRequest{Follow: true, Lines: 1}, s, sink.send) }()
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
	path := filepath.Join(t.TempDir(), "web.stdout.0")
	os.WriteFile(path, nil, 0o644)
	var sink chunkSink
	s := &logStream{}
	s.renewed.Store(time.Now().Add(-time.Hour).UnixNano()) // never renewed
	if err := streamLog(context.Background(), path, protocol.LogsRequest{Follow: true}, s, sink.send); err != nil {
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
		if err := streamLog(context.Background(), filepath.Join(logs, "web.stdout.0"), protocol.LogsRequest{}, s, sink.send); err != nil {
			t.Fatal(err)
		}
		got, eof := sink.text()
		if strings.Contains(got, "SECRET") || !eof {
			t.Fatalf("streamed %q (eof %v) through a symlink out of the alloc dir", got, eof)
		}
		if len(sink.chunks) == 0 || !strings.Contains(sink.chunks[len(sink.chunks)-1].Err, "open log") {
			t.Errorf("no error chunk: %+v", sink.chunks)
		}
	}
}
