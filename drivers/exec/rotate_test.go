//go:build linux

package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// fastWriter prints consecutive numbers, one a line, at a few MB/s until
// the file "stop" appears in its dir, then "DONE".
const fastWriter = `i=0; while [ ! -f stop ]; do seq $i $((i+9999)); i=$((i+10000)); sleep 0.01; done; echo DONE`

// logUsage is what base's files hold on disk now: the bytes of the
// rotated files (each inode once) and of the file being written.
func logUsage(t *testing.T, base string) (rotated, live int64, idx int) {
	t.Helper()
	idxs, err := logfile.Indexes(base)
	if err != nil || len(idxs) == 0 {
		return 0, 0, -1
	}
	seen := map[uint64]bool{}
	for k := len(idxs) - 1; k >= 0; k-- {
		st, err := os.Stat(logfile.Name(base, idxs[k]))
		if err != nil {
			continue // rotated away meanwhile
		}
		ino := st.Sys().(*syscall.Stat_t).Ino
		if seen[ino] {
			continue
		}
		seen[ino] = true
		if k == len(idxs)-1 {
			live = st.Size()
		} else {
			rotated += st.Size()
		}
	}
	return rotated, live, idxs[len(idxs)-1]
}

// watchBound samples base's files until its highest index reaches upTo,
// failing if the rotated files ever hold more than 1.5 × max (max_files
// 2: one rotated file of max, plus what the task wrote while it was
// copied). It returns the largest total seen once two rotations have
// happened (Watch has found the pace of the task).
func watchBound(t *testing.T, base string, max int64, upTo int) (peak int64) {
	t.Helper()
	eventually(t, 90*time.Second+time.Duration(upTo)*time.Second, func() error {
		rotated, live, idx := logUsage(t, base)
		if rotated > max*3/2 {
			t.Fatalf("rotated files hold %d bytes, want at most about %d (max_files 2, max_file_size %d)", rotated, max, max)
		}
		if idx >= 2 {
			peak = maxInt(peak, rotated+live)
		}
		if idx < upTo {
			return fmt.Errorf("log at index %d, want %d (%d bytes rotated, %d live)", idx, upTo, rotated, live)
		}
		return nil
	})
	return peak
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// checkNewest stops the writer and checks that the stream's last lines,
// read across its files as alloc logs reads them, are its newest.
func checkNewest(t *testing.T, dir, base string, max int64, h drivers.Handle) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, h, 30*time.Second); !r.Successful() {
		t.Fatalf("writer exited with %+v", r)
	}
	root, err := os.OpenRoot(filepath.Dir(base))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	eventually(t, 10*time.Second, func() error {
		r := logfile.NewReader(root, filepath.Base(base), logfile.Policy{MaxFiles: 2, MaxFileSize: max})
		if err := r.Tail(4); err != nil {
			return err
		}
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		lines := strings.Split(strings.TrimSuffix(sb.String(), "\n"), "\n")
		if len(lines) != 4 || lines[3] != "DONE" {
			return fmt.Errorf("tail 4 = %q, want 3 numbers and DONE", lines)
		}
		a, _ := strconv.Atoi(lines[0])
		b, _ := strconv.Atoi(lines[2])
		if b != a+2 || a < 100000 {
			return fmt.Errorf("tail 4 = %q, want the newest consecutive numbers", lines)
		}
		return nil
	})
}

// An exec task writing a few MB/s with logs { max_files = 2,
// max_file_size = 1 } keeps one rotated file of 1 MB and the partial one
// it writes, and its newest lines are read across them. 8 rotations by
// default; TETHER_ROTATIONS=500 keeps it writing for minutes (bench/README).
func TestLogsRotateWhileTaskWrites(t *testing.T) {
	rotations := 8
	if v := os.Getenv("TETHER_ROTATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 {
			t.Fatalf("TETHER_ROTATIONS=%q: want a number of rotations, at least 8", v)
		}
		rotations = n
	}
	dir := t.TempDir()
	cfg := newTaskIn(t, dir, "a1/chatty", fastWriter)
	cfg.Config["work_dir"] = dir
	cfg.Logs = logfile.Policy{MaxFiles: 2, MaxFileSize: 1 << 20}
	h := start(t, New(testLogger()), cfg)
	begin := time.Now()
	peak := watchBound(t, cfg.StdoutPath, 1<<20, rotations)
	t.Logf("%d rotations in %v; at most %d bytes on disk", rotations, time.Since(begin).Round(time.Millisecond), peak)
	checkNewest(t, dir, cfg.StdoutPath, 1<<20, h)
	if idxs, _ := logfile.Indexes(cfg.StdoutPath); len(idxs) > 2 {
		t.Errorf("files %v after the task exited, want at most 2", idxs)
	}
}

// A task started by an agent that has since exited is rotated by the next
// agent, which re-attached to it; the task never depended on either.
func TestLogsRotateAfterAgentRestart(t *testing.T) {
	dir := t.TempDir()
	script := `cd ` + dir + ` && ` + fastWriter
	hs := startInOtherAgent(t, dir, script, agentLogMaxEnv+"="+strconv.Itoa(256<<10))
	base := filepath.Join(dir, "logs", "stdout")
	// Nobody rotates while no agent runs.
	eventually(t, 30*time.Second, func() error {
		if _, live, _ := logUsage(t, base); live < 1<<20 {
			return errors.New("the orphaned task has not written 1 MB yet")
		}
		return nil
	})
	h := recoverTraced(t, New(testLogger()), hs)
	_, _, idx := logUsage(t, base)
	watchBound(t, base, 256<<10, idx+8)
	checkNewest(t, dir, base, 256<<10, h)
}
