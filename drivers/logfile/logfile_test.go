package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// files returns base's files by index with their contents.
func files(t *testing.T, base string) (idxs []int, content map[int]string) {
	t.Helper()
	idxs, err := Indexes(base)
	if err != nil {
		t.Fatal(err)
	}
	content = map[int]string{}
	for _, i := range idxs {
		b, err := os.ReadFile(Name(base, i))
		if err != nil {
			t.Fatal(err)
		}
		content[i] = string(b)
	}
	return idxs, content
}

func joined(idxs []int, content map[int]string) string {
	var sb strings.Builder
	for _, i := range idxs {
		sb.WriteString(content[i])
	}
	return sb.String()
}

func lines(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&sb, "line %06d\n", i) // 12 bytes
	}
	return sb.String()
}

func TestWriterRotatesBySizeAndKeepsMaxFiles(t *testing.T) {
	base := filepath.Join(t.TempDir(), "logs", "web.stdout")
	w, err := Open(base, Policy{MaxFiles: 3, MaxFileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	all := lines(0, 500) // 6000 bytes: files 0..5, 3 kept
	for i := 0; i < len(all); i += 700 {
		if _, err := w.Write([]byte(all[i:min(i+700, len(all))])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	idxs, content := files(t, base)
	if !slices.Equal(idxs, []int{3, 4, 5}) {
		t.Fatalf("files %v, want web.stdout.3, .4, .5", idxs)
	}
	for _, i := range idxs {
		if len(content[i]) != 1000 {
			t.Errorf("web.stdout.%d holds %d bytes, want 1000", i, len(content[i]))
		}
	}
	if got := joined(idxs, content); got != all[3000:] {
		t.Errorf("kept files do not hold the newest 3000 bytes in order")
	}

	// A new Writer (a task restart) appends to a file with room, then
	// rotates on.
	if err := os.WriteFile(Name(base, 5), []byte("short\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Open(base, Policy{MaxFiles: 3, MaxFileSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("x"), 1500)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	idxs, content = files(t, base)
	if !slices.Equal(idxs, []int{4, 5, 6}) || len(content[5]) != 1000 || !strings.HasPrefix(content[5], "short\n") || len(content[6]) != 506 {
		t.Fatalf("after reopen: files %v, sizes %d %d, want .4 .5 .6 with .5 = short + 994 bytes and .6 = 506 bytes", idxs, len(content[5]), len(content[6]))
	}
}

func TestOpenCurrentStartsNextWhenFull(t *testing.T) {
	base := filepath.Join(t.TempDir(), "web.stderr")
	if err := os.WriteFile(Name(base, 0), bytes.Repeat([]byte("x"), 10), 0o644); err != nil {
		t.Fatal(err)
	}
	f, idx, size, err := OpenCurrent(base, Policy{MaxFiles: 2, MaxFileSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if idx != 1 || size != 0 {
		t.Fatalf("OpenCurrent = index %d size %d, want a new web.stderr.1", idx, size)
	}
	// Names that only look like log files are not counted.
	for _, n := range []string{"web.stderr.01", "web.stderr.x", "web.stderr.", ".web.stderr.rotating.0", "web.stdout.7"} {
		if err := os.WriteFile(filepath.Join(filepath.Dir(base), n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if idxs, _ := Indexes(base); !slices.Equal(idxs, []int{0, 1}) {
		t.Fatalf("Indexes = %v, want [0 1]", idxs)
	}
}

// tempDirs are the dirs to run a test in: the test's temp dir and, when
// there is one, a dir on tmpfs, so that both ways of cutting a shared file
// (collapse on ext4/xfs, truncate elsewhere) are tested where the machine
// has them.
func tempDirs(t *testing.T) map[string]string {
	dirs := map[string]string{"tempdir": t.TempDir()}
	if d, err := os.MkdirTemp("/dev/shm", "logfile-test-"); err == nil {
		t.Cleanup(func() { os.RemoveAll(d) })
		dirs["shm"] = d
	}
	return dirs
}

// An exec task's file: another holder writes with O_APPEND while the
// agent rotates by copy and cut.
func TestRotateSharedWithAppendingWriter(t *testing.T) {
	for name, dir := range tempDirs(t) {
		t.Run(name, func(t *testing.T) { rotateSharedWithAppendingWriter(t, dir) })
	}
}

func rotateSharedWithAppendingWriter(t *testing.T, dir string) {
	base := filepath.Join(dir, "logs", "job.stdout")
	p := Policy{MaxFiles: 3, MaxFileSize: 1000}
	task, idx, _, err := OpenCurrent(base, p) // what the exec driver hands the task
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	if idx != 0 {
		t.Fatalf("first file index %d, want 0", idx)
	}
	write := func(s string) {
		if _, err := task.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	all := lines(0, 100) // 1200 bytes: less than a 4 KiB block, so never collapsed
	write(all)
	if rotated, err := RotateShared(base, p); err != nil || !rotated {
		t.Fatalf("RotateShared = %v, %v; want a rotation of a 1200 byte file", rotated, err)
	}
	idxs, content := files(t, base)
	if !slices.Equal(idxs, []int{0, 1, 2}) || content[0] != all[:1000] || content[1] != all[1000:] || content[2] != "" {
		t.Fatalf("after rotation: files %v sizes %d/%d/%d; want .0 = first 1000 bytes, .1 = the other 200, .2 empty (the task's)", idxs, len(content[0]), len(content[1]), len(content[2]))
	}
	// The task keeps writing, now into .2, at its start (O_APPEND).
	more := lines(100, 150)
	write(more)
	if _, content = files(t, base); content[2] != more {
		t.Fatalf("the task's writes after the rotation: .2 holds %q, want %d bytes of new lines", content[2], len(more))
	}
	if rotated, _ := RotateShared(base, p); rotated {
		t.Fatal("a 600 byte file was rotated (max 1000)")
	}
	// 3504 bytes more: .2 holds 4104, cut into pieces .2 .. .6 with the
	// task's file at .7; MaxFiles 3 keeps .5, .6 and .7. (Collapsing cuts
	// 4096 bytes and leaves 8 in the task's file; truncating cuts all.)
	big := lines(150, 442)
	write(big)
	if _, err := RotateShared(base, p); err != nil {
		t.Fatal(err)
	}
	write("tail\n")
	idxs, content = files(t, base)
	stream := more + big + "tail\n"
	got := joined(idxs, content)
	if !slices.Equal(idxs, []int{5, 6, 7}) || len(content[5]) != 1000 || len(content[6]) > 1000 ||
		!strings.HasSuffix(content[7], "tail\n") || got != stream[len(stream)-len(got):] {
		t.Fatalf("files %v sizes %d/%d/%d; want .5 and .6 the newest pieces, .7 the task's newest writes, in order", idxs, len(content[5]), len(content[6]), len(content[7]))
	}
	if ents, _ := os.ReadDir(filepath.Dir(base)); len(ents) != 3 {
		t.Errorf("logs dir holds %d entries, want 3 (no temporary files left)", len(ents))
	}
}

// readAll reads what r has now, going past the states a rotation passes
// through (two EOFs in a row).
func readAll(t *testing.T, r *Reader) string {
	t.Helper()
	var sb strings.Builder
	buf := make([]byte, 333)
	eofs := 0
	for eofs < 2 {
		n, err := r.Read(buf)
		sb.Write(buf[:n])
		switch {
		case errors.Is(err, io.EOF):
			eofs++
		case err != nil:
			t.Fatal(err)
		default:
			eofs = 0
		}
	}
	return sb.String()
}

func TestReaderFollowsBothRotations(t *testing.T) {
	for name, dir := range tempDirs(t) {
		t.Run(name, func(t *testing.T) { readerFollowsBothRotations(t, dir) })
	}
}

func readerFollowsBothRotations(t *testing.T, dir string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	p := Policy{MaxFiles: 50, MaxFileSize: 1000}

	// Writer rotation (wasm, podman).
	w, err := Open(filepath.Join(dir, "logs", "a.stdout"), p)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(root, "logs/a.stdout", p)
	var got, want strings.Builder
	for i := 0; i < 400; i += 37 {
		s := lines(i, i+37)
		w.Write([]byte(s))
		want.WriteString(s)
		got.WriteString(readAll(t, r))
	}
	w.Close()
	if got.String() != want.String() {
		t.Fatalf("reader across Writer rotations: %d bytes, want %d", got.Len(), want.Len())
	}

	// Shared rotation (exec): the reader is mid-file, at the end, or
	// behind by several pieces when a rotation happens.
	base := filepath.Join(dir, "logs", "b.stdout")
	task, _, _, err := OpenCurrent(base, p)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	r = NewReader(root, "logs/b.stdout", p)
	got.Reset()
	want.Reset()
	n := 0
	for step := 0; step < 60; step++ {
		s := lines(n, n+step*7%53+1)
		n += step*7%53 + 1
		task.WriteString(s)
		want.WriteString(s)
		switch step % 3 {
		case 0:
			got.WriteString(readAll(t, r))
			RotateShared(base, p)
		case 1:
			RotateShared(base, p)
			got.WriteString(readAll(t, r))
		case 2: // fall behind
		}
	}
	got.WriteString(readAll(t, r))
	if got.String() != want.String() {
		t.Fatalf("reader across shared rotations: %d bytes, want %d", got.Len(), want.Len())
	}
}

func TestTailSpansFiles(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	w, err := Open(filepath.Join(dir, "t.stdout"), Policy{MaxFiles: 10, MaxFileSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	all := lines(0, 50) // 600 bytes: 6 files, lines split across files
	w.Write([]byte(all))
	w.Close()
	for _, n := range []int{1, 8, 9, 25, 50, 80} {
		r := NewReader(root, "t.stdout", Policy{MaxFiles: 10, MaxFileSize: 100})
		if err := r.Tail(n); err != nil {
			t.Fatal(err)
		}
		want := lines(max(0, 50-n), 50)
		if got := readAll(t, r); got != want {
			t.Errorf("Tail(%d) read %q, want %q", n, got, want)
		}
	}
	// An unterminated last line counts as a line.
	w, _ = Open(filepath.Join(dir, "t.stdout"), Policy{MaxFiles: 10, MaxFileSize: 100})
	w.Write([]byte("partial"))
	w.Close()
	r := NewReader(root, "t.stdout", Policy{MaxFiles: 10, MaxFileSize: 100})
	r.Tail(2)
	if got := readAll(t, r); got != "line 000049\npartial" {
		t.Errorf("Tail(2) with a partial last line = %q", got)
	}
}

func TestTailOneFile(t *testing.T) {
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
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "w.stdout.0"), []byte(tt.text), 0o644); err != nil {
			t.Fatal(err)
		}
		root, _ := os.OpenRoot(dir)
		r := NewReader(root, "w.stdout", Policy{})
		if err := r.Tail(tt.n); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, r); got != tt.want {
			t.Errorf("%d: tail %d of a %d byte file = %d bytes, want %d", i, tt.n, len(tt.text), len(got), len(tt.want))
		}
		root.Close()
	}
}

// A task that writes all the time while the agent rotates its file: where
// the filesystem collapses, the stream read across the files is exactly
// what the task wrote; where it truncates, a little may be lost at a
// rotation but nothing is read twice or out of order.
func TestRotateSharedUnderConcurrentWrites(t *testing.T) {
	for name, dir := range tempDirs(t) {
		t.Run(name, func(t *testing.T) { rotateSharedUnderConcurrentWrites(t, dir) })
	}
}

func rotateSharedUnderConcurrentWrites(t *testing.T, dir string) {
	base := filepath.Join(dir, "w.stdout")
	p := Policy{MaxFiles: 1000, MaxFileSize: 16 << 10}
	task, _, _, err := OpenCurrent(base, p)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	exact := collapsible(task, p.MaxFileSize)
	const total = 20000 // 240 KB
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += 10 {
			task.WriteString(lines(i, i+10))
		}
	}()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	r := NewReader(root, "w.stdout", p)
	var got strings.Builder
	rotations := 0
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		if ok, err := RotateShared(base, p); err != nil {
			t.Fatal(err)
		} else if ok {
			rotations++
		}
		got.WriteString(readAll(t, r))
	}
	got.WriteString(readAll(t, r))
	want := lines(0, total)
	if exact {
		if got.String() != want {
			t.Fatalf("read %d bytes after %d rotations by collapse, want exactly the %d written", got.Len(), rotations, len(want))
		}
		return
	}
	prev, breaks := -1, 0
	for _, l := range strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "line %06d", &n); err != nil || len(l) != 11 || n <= prev {
			breaks++
			continue
		}
		prev = n
	}
	if breaks > 2*rotations {
		t.Fatalf("%d broken or repeated lines after %d rotations by truncation", breaks, rotations)
	}
	t.Logf("%d rotations by truncation: %d lines broken, last line %d", rotations, breaks, prev)
}

// A reader in the middle of a shared file that is cut into several pieces,
// of which max_files keeps only the newest, goes on where it was: it never
// reads a line twice.
func TestReaderBehindAShortHistory(t *testing.T) {
	for name, dir := range tempDirs(t) {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(dir, "s.stdout")
			p := Policy{MaxFiles: 2, MaxFileSize: 4096}
			task, _, _, err := OpenCurrent(base, p)
			if err != nil {
				t.Fatal(err)
			}
			defer task.Close()
			root, _ := os.OpenRoot(dir)
			defer root.Close()
			r := NewReader(root, "s.stdout", p)
			var got strings.Builder
			n := 0
			for step := 0; step < 30; step++ {
				k := 300 + step*97%700 // 3.6 to 12 KB: 1 to 3 pieces
				task.WriteString(lines(n, n+k))
				n += k
				if step%2 == 0 {
					got.WriteString(readAll(t, r)) // caught up, then cut
				} else {
					buf := make([]byte, 1000) // part way into the file, then cut
					m, _ := r.Read(buf)
					got.Write(buf[:m])
				}
				if _, err := RotateShared(base, p); err != nil {
					t.Fatal(err)
				}
			}
			got.WriteString(readAll(t, r))
			prev := -1
			for _, l := range strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n") {
				var v int
				if _, err := fmt.Sscanf(l, "line %06d", &v); err != nil || len(l) != 11 {
					continue // a line cut where content was rotated away unread
				}
				if v <= prev {
					t.Fatalf("read line %d after line %d", v, prev)
				}
				prev = v
			}
			if prev != n-1 {
				t.Fatalf("last line read %d, want %d", prev, n-1)
			}
		})
	}
}

// When the pieces cannot be written (a full disk), the rotation still
// cuts the task's file, dropping its oldest output, and says so.
func TestRotateSharedDropsWhatItCannotCopy(t *testing.T) {
	for name, dir := range tempDirs(t) {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(dir, "d.stdout")
			p := Policy{MaxFiles: 3, MaxFileSize: 4096}
			task, _, _, err := OpenCurrent(base, p)
			if err != nil {
				t.Fatal(err)
			}
			defer task.Close()
			task.WriteString(lines(0, 1000)) // 12000 bytes
			// The piece cannot be created: its temporary name is taken.
			for j := 0; j < 3; j++ {
				os.Mkdir(filepath.Join(dir, ".d.stdout.rotating."+strconv.Itoa(j)), 0o755)
			}
			rotated, err := RotateShared(base, p)
			if !rotated || err == nil || !strings.Contains(err.Error(), "dropped the task's oldest output") {
				t.Fatalf("RotateShared = %v, %v; want a rotation that says it dropped output", rotated, err)
			}
			idxs, content := files(t, base)
			if len(idxs) != 1 || len(content[idxs[0]]) >= 4096 {
				t.Fatalf("files %v, newest %d bytes; want only the task's file, cut below max_file_size", idxs, len(content[idxs[0]]))
			}
			task.WriteString("after\n")
			if _, content = files(t, base); !strings.HasSuffix(content[idxs[0]], "after\n") {
				t.Fatal("the task's writes after the rotation are not in its file")
			}
		})
	}
}

// A task that plants symlinks in its logs dir, or swaps the logs dir for a
// symlink (a wasm guest can, in its /alloc), does not get the agent to
// write, truncate or create a file outside the allocation.
func TestSymlinksDoNotLeadOut(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	check := func(t *testing.T) {
		t.Helper()
		if b, err := os.ReadFile(secret); err != nil || string(b) != "SECRET" {
			t.Fatalf("the file outside now holds %q (%v)", b, err)
		}
		if ents, _ := os.ReadDir(outside); len(ents) != 1 {
			t.Fatalf("%d files outside, want only the secret", len(ents))
		}
	}
	reset := func() { os.WriteFile(secret, []byte("SECRET"), 0o600) }

	t.Run("next file of a Writer", func(t *testing.T) {
		reset()
		alloc := t.TempDir()
		base := filepath.Join(alloc, "logs", "w.stdout")
		w, err := Open(base, Policy{MaxFiles: 5, MaxFileSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		os.Symlink(secret, Name(base, 1))
		w.Write([]byte("0123456789overwrite"))
		check(t)
	})
	t.Run("logs dir of a Writer", func(t *testing.T) {
		reset()
		alloc := t.TempDir()
		base := filepath.Join(alloc, "logs", "w.stdout")
		w, err := Open(base, Policy{MaxFiles: 5, MaxFileSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		os.Rename(filepath.Join(alloc, "logs"), filepath.Join(alloc, "old"))
		os.Symlink(outside, filepath.Join(alloc, "logs"))
		w.Write([]byte("0123456789new file"))
		check(t)
	})
	t.Run("pieces of a shared rotation", func(t *testing.T) {
		reset()
		alloc := t.TempDir()
		base := filepath.Join(alloc, "logs", "s.stdout")
		p := Policy{MaxFiles: 5, MaxFileSize: 10}
		task, _, _, err := OpenCurrent(base, p)
		if err != nil {
			t.Fatal(err)
		}
		defer task.Close()
		task.WriteString("0123456789abcdefghij")
		for j := 0; j < 2; j++ {
			os.Symlink(secret, filepath.Join(alloc, "logs", ".s.stdout.rotating."+strconv.Itoa(j)))
		}
		os.Symlink(secret, Name(base, 2)) // where the task's file goes
		RotateShared(base, p)
		check(t)
	})
	t.Run("logs dir of a shared rotation", func(t *testing.T) {
		reset()
		alloc := t.TempDir()
		base := filepath.Join(alloc, "logs", "s.stdout")
		p := Policy{MaxFiles: 5, MaxFileSize: 10}
		task, _, _, err := OpenCurrent(base, p)
		if err != nil {
			t.Fatal(err)
		}
		defer task.Close()
		task.WriteString("0123456789abcdefghij")
		os.WriteFile(filepath.Join(outside, "s.stdout.0"), []byte("0123456789abcdefghij"), 0o644)
		defer os.Remove(filepath.Join(outside, "s.stdout.0"))
		os.Rename(filepath.Join(alloc, "logs"), filepath.Join(alloc, "old"))
		os.Symlink(outside, filepath.Join(alloc, "logs"))
		RotateShared(base, p)
		if b, _ := os.ReadFile(filepath.Join(outside, "s.stdout.0")); string(b) != "0123456789abcdefghij" {
			t.Fatalf("a file outside was rotated: %q", b)
		}
		os.Remove(filepath.Join(outside, "s.stdout.0"))
		check(t)
	})
}

// Two rotations of one file at once (the last check of a task that exited
// and the first of its restart): the second leaves the file alone.
func TestRotateSharedOneAtATime(t *testing.T) {
	base := filepath.Join(t.TempDir(), "logs", "o.stdout")
	p := Policy{MaxFiles: 5, MaxFileSize: 10}
	task, _, _, err := OpenCurrent(base, p)
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	task.WriteString("0123456789abcdefghij")
	other, err := os.Open(Name(base, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !lockRotation(other) {
		t.Fatal("could not take the rotation lock")
	}
	if rotated, err := RotateShared(base, p); rotated || err != nil {
		t.Fatalf("RotateShared during another rotation = %v, %v; want it to leave the file", rotated, err)
	}
	other.Close()
	if rotated, err := RotateShared(base, p); !rotated || err != nil {
		t.Fatalf("RotateShared after the other one = %v, %v; want a rotation", rotated, err)
	}
}
