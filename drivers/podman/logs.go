package podman

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/drivers/logfile"
)

// The logs endpoint (non-tty container) multiplexes both streams in frames:
// [stream, 0, 0, 0, size uint32 big-endian] then size bytes. With
// timestamps=true each payload starts with an RFC 3339 time and a space.
// Podman 4.3 writes those times with one-second precision only, so the
// resume point after a re-attach is (second, lines already copied in that
// second): the log replays in the same order every time.

const (
	frameHeaderLen = 8
	maxFrame       = 1 << 20 // conmon splits long lines far below this
	streamStdout   = 1
	streamStderr   = 2
)

var errFrameTooBig = errors.New("podman log stream: frame larger than 1 MiB")

// readFrame reads one frame into buf (grown as needed) and returns its
// stream and payload. io.EOF only at a frame boundary.
func readFrame(r *bufio.Reader, buf []byte) (stream byte, payload []byte, err error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, buf, fmt.Errorf("podman log stream: truncated frame header: %w", err)
		}
		return 0, buf, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxFrame {
		return 0, buf, errFrameTooBig
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, buf, fmt.Errorf("podman log stream: truncated frame: %w", io.ErrUnexpectedEOF)
	}
	return h[0], buf, nil
}

// splitTimestamp splits "2026-11-26T12:23:50Z message" into its time and
// message; ok is false when the payload carries no timestamp.
func splitTimestamp(p []byte) (ts time.Time, msg []byte, ok bool) {
	i := bytes.IndexByte(p, ' ')
	if i < 20 || i > 40 {
		return time.Time{}, p, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(p[:i]))
	if err != nil {
		return time.Time{}, p, false
	}
	return t, p[i+1:], true
}

// cursor is how far a task's log has been copied: every line stamped
// before second sec, and n lines stamped sec.
type cursor struct {
	sec int64
	n   int
}

func (c cursor) since() time.Time {
	if c.sec == 0 && c.n == 0 {
		return time.Time{}
	}
	return time.Unix(c.sec, 0)
}

// advance records one more line copied, stamped ts.
func (c cursor) advance(ts int64) cursor {
	if ts == c.sec {
		c.n++
		return c
	}
	return cursor{sec: ts, n: 1}
}

// cursorFileLen is the fixed size of a cursor file, so it is rewritten in
// place with one pwrite.
const cursorFileLen = 48

func (c cursor) encode() []byte {
	s := fmt.Sprintf("%d %d\n", c.sec, c.n)
	b := make([]byte, cursorFileLen)
	copy(b, s)
	for i := len(s); i < len(b); i++ {
		b[i] = ' '
	}
	return b
}

func decodeCursor(b []byte) (cursor, error) {
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return cursor{}, fmt.Errorf("podman log cursor: want \"<unix second> <lines>\", got %q", b)
	}
	sec, err1 := strconv.ParseInt(f[0], 10, 64)
	n, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || sec < 0 || n < 0 {
		return cursor{}, fmt.Errorf("podman log cursor: want \"<unix second> <lines>\", got %q", b)
	}
	return cursor{sec: sec, n: n}, nil
}

// logCopier copies a container's output into the task's log files. Its
// fields are owned by the goroutine running run.
type logCopier struct {
	c      *client
	id     string
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	cursor *os.File // nil: no resume point kept
	cur    cursor
	files  []io.Closer // closed when run returns
}

// openLogCopier opens the log streams (appending, rotated by size as
// logfile.Writer does) and the cursor file. With resume, it continues from
// the cursor the file holds; otherwise it starts the cursor afresh.
func openLogCopier(c *client, id, stdoutPath, stderrPath, cursorPath string, p logfile.Policy, resume bool, log *slog.Logger) (*logCopier, error) {
	lc := &logCopier{c: c, id: id, log: log, stdout: io.Discard, stderr: io.Discard}
	for _, s := range []struct {
		base string
		dst  *io.Writer
	}{{stdoutPath, &lc.stdout}, {stderrPath, &lc.stderr}} {
		if s.base == "" {
			continue
		}
		w, err := logfile.Open(s.base, p)
		if err != nil {
			lc.close()
			return nil, fmt.Errorf("podman driver: task log %s: %w", s.base, err)
		}
		lc.files = append(lc.files, w)
		*s.dst = w
	}
	open := func(path string, flag int) (*os.File, error) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("podman driver: log dir: %w", err)
		}
		f, err := os.OpenFile(path, flag, 0o644)
		if err != nil {
			return nil, fmt.Errorf("podman driver: open log file: %w", err)
		}
		lc.files = append(lc.files, f)
		return f, nil
	}
	if cursorPath != "" {
		if resume {
			if b, err := os.ReadFile(cursorPath); err == nil {
				if cur, err := decodeCursor(b); err == nil {
					lc.cur = cur
				} else {
					log.Warn("podman driver: log cursor unreadable, replaying the whole log", "path", cursorPath, "error", err)
				}
			}
		}
		f, err := open(cursorPath, os.O_RDWR|os.O_CREATE)
		if err != nil {
			lc.close()
			return nil, err
		}
		lc.cursor = f
		if !resume {
			lc.saveCursor()
		}
	}
	return lc, nil
}

func (lc *logCopier) close() {
	for _, f := range lc.files {
		_ = f.Close()
	}
}

func (lc *logCopier) saveCursor() {
	if lc.cursor == nil {
		return
	}
	if _, err := lc.cursor.WriteAt(lc.cur.encode(), 0); err != nil {
		lc.log.Warn("podman driver: write log cursor", "error", err)
	}
}

// run follows the log until the stream ends after exited is closed, the
// container is gone, or ctx is cancelled. A broken stream is reopened from
// the cursor, so nothing is copied twice.
func (lc *logCopier) run(ctx context.Context, exited <-chan struct{}) {
	defer lc.close()
	backoff := 50 * time.Millisecond
	failing := false // the last session could not write the log files
	for {
		rc, err := lc.c.logs(ctx, lc.id, lc.cur.since())
		if err == nil {
			err = lc.copy(rc)
			rc.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			select {
			case <-exited:
				return // the stream ended after the exit: everything is copied
			default:
			}
		} else if isNotFound(err) {
			return
		} else if errors.Is(err, errLogWrite) {
			if !failing {
				lc.log.Warn("podman driver: cannot write the task's log; retrying from the last line written", "container", lc.id, "error", err)
			}
		} else {
			lc.log.Debug("podman driver: log stream broke, reopening", "container", lc.id, "error", err)
		}
		failing = errors.Is(err, errLogWrite)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// errLogWrite wraps a failure to write the task's log files (a full
// disk): the cursor stays where the files end, and the lines are copied
// again from Podman's own log when the stream is reopened.
var errLogWrite = errors.New("podman driver: write task log")

// copy copies one stream session, skipping what the cursor says is copied.
// The cursor moves only past lines that reached the log files.
func (lc *logCopier) copy(r io.Reader) (err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	out := bufio.NewWriterSize(lc.stdout, 32<<10)
	errw := bufio.NewWriterSize(lc.stderr, 32<<10)
	saved := lc.cur // what the log files hold
	flush := func() error {
		for _, w := range []*bufio.Writer{out, errw} {
			if err := w.Flush(); err != nil {
				lc.cur = saved
				return fmt.Errorf("%w: %w", errLogWrite, err)
			}
		}
		lc.saveCursor()
		saved = lc.cur
		return nil
	}
	defer func() {
		if ferr := flush(); err == nil {
			err = ferr
		}
	}()
	resume := lc.cur
	var buf []byte
	for {
		stream, payload, err := readFrame(br, buf)
		buf = payload
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		ts, msg, ok := splitTimestamp(payload)
		if ok {
			sec := ts.Unix()
			if sec < resume.sec {
				continue
			}
			if sec == resume.sec && resume.n > 0 {
				resume.n--
				continue
			}
			lc.cur = lc.cur.advance(sec)
		}
		switch stream {
		case streamStdout:
			_, _ = out.Write(msg)
		case streamStderr:
			_, _ = errw.Write(msg)
		default:
			lc.log.Warn("podman driver: message on log stream", "container", lc.id, "stream", stream, "message", string(msg))
		}
		if br.Buffered() == 0 {
			// About to block: make what we have visible and durable.
			if err := flush(); err != nil {
				return err
			}
		}
	}
}
