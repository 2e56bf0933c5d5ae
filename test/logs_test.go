package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A task writing a few MB/s with logs { max_files = 2, max_file_size = 1 }
// keeps one rotated file of 1 MB and the one it writes, named as Nomad's
// (fast.stdout.N); `alloc logs -tail` shows its newest lines and `alloc
// logs -f` follows it across rotations.
func TestLogRotationEndToEnd(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("a")
	c.waitNode("a", "ready", 20*time.Second)
	work := t.TempDir()
	job := filepath.Join(work, "logs.hcl")
	src := `job "logs" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    task "fast" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "i=0; while :; do seq $i $((i+9999)); i=$((i+10000)); sleep 0.01; done"]
      }
      logs {
        max_files     = 2
        max_file_size = 1
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`
	if err := os.WriteFile(job, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	a := c.waitRunning("logs", 1, 20*time.Second)[0]
	logs := filepath.Join(c.dir, "agent-a", "allocs", a.ID, "alloc", "logs")
	base := filepath.Join(logs, "fast.stdout")

	// Disk: one rotated file of about 1 MB and the partial one.
	const mb = 1 << 20
	var peak int64
	sample := func(upTo int) {
		eventually(t, 90*time.Second, func() error {
			rotated, live, idx := usage(t, base)
			if rotated > mb*3/2 {
				t.Fatalf("rotated files hold %d bytes, want about 1 MB at most (max_files 2, max_file_size 1)", rotated)
			}
			if idx >= 2 {
				peak = max(peak, rotated+live)
			}
			if idx < upTo {
				return fmt.Errorf("at fast.stdout.%d, want .%d", idx, upTo)
			}
			return nil
		})
	}
	begin := time.Now()
	sample(6)

	// Follow from the newest line through at least two rotations.
	_, _, idx := usage(t, base)
	follow := exec.Command(bins.central, "alloc", "logs", "-f", "-tail", "-n", "1", a.ID)
	follow.Env = append(os.Environ(), "CENTRAL_ADDR=http://"+c.http)
	var followed syncBuffer
	follow.Stdout, follow.Stderr = &followed, &followed
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	sample(idx + 3)
	var first, last int
	eventually(t, 30*time.Second, func() error {
		nums := numbers(followed.String())
		if len(nums) < 2 {
			return fmt.Errorf("followed %q", followed.String())
		}
		first, last = nums[0], nums[len(nums)-1]
		if last-first < 2*mb/7 { // lines of 6 or 7 bytes: 2 MB and more
			return fmt.Errorf("followed from %d to %d so far", first, last)
		}
		return nil
	})
	follow.Process.Signal(os.Interrupt)
	follow.Wait()
	nums := numbers(followed.String())
	// Nothing is read twice. (Where the reader fell behind and content was
	// rotated away unread, the part lines on either side of the gap may
	// join into an odd number, maybe one read before, or leave a short one:
	// a single line is not counted.)
	seen := map[int]bool{}
	twice := 0
	prevTwice := false
	for i, n := range nums {
		again := seen[n]
		if again && prevTwice && nums[i-1] == n-1 {
			twice++ // two consecutive lines, both read before
		}
		prevTwice = again
		seen[n] = true
	}
	if twice > 0 {
		t.Errorf("alloc logs -f read %d of %d lines twice: it re-read rotated content", twice, len(nums))
	}
	sample(idx + 6)
	t.Logf("%d rotations in %v, at most %d bytes on disk after the first two; followed %d..%d (%d lines)", idx+6, time.Since(begin).Round(time.Millisecond), peak, first, last, len(nums))

	// -tail: the newest lines, read across the files.
	newest := 0
	_, _, idx = usage(t, base)
	for _, i := range []int{idx - 1, idx} {
		if b, err := os.ReadFile(logName(base, i)); err == nil {
			if ns := numbers(string(b)); len(ns) > 1 {
				newest = max(newest, ns[len(ns)-2]) // the last line may be partial
			}
		}
	}
	out, code := c.cli("alloc", "logs", "-tail", "-n", "3", a.ID)
	ns := numbers(out)
	if code != 0 || len(ns) < 2 || ns[0] < newest-2 {
		t.Fatalf("alloc logs -tail -n 3 exited %d: %q; want numbers from %d on", code, out, newest)
	}
	if ents, _ := os.ReadDir(logs); len(ents) > 4 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("logs dir holds %v, want fast.stdout and fast.stderr with at most 2 files each", names)
	}
}

func logName(base string, i int) string { return base + "." + strconv.Itoa(i) }

// usage is what base's files hold: the rotated ones (each inode once) and
// the highest, which the task writes.
func usage(t *testing.T, base string) (rotated, live int64, idx int) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Dir(base))
	prefix := filepath.Base(base) + "."
	idx = -1
	var idxs []int
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimPrefix(e.Name(), prefix)); err == nil && strings.HasPrefix(e.Name(), prefix) {
			idxs = append(idxs, n)
			idx = max(idx, n)
		}
	}
	seen := map[uint64]bool{}
	for _, i := range []int{idx} {
		if st, err := os.Stat(logName(base, i)); err == nil {
			seen[st.Sys().(*syscall.Stat_t).Ino] = true
			live = st.Size()
		}
	}
	for _, i := range idxs {
		if i == idx {
			continue
		}
		if st, err := os.Stat(logName(base, i)); err == nil && !seen[st.Sys().(*syscall.Stat_t).Ino] {
			seen[st.Sys().(*syscall.Stat_t).Ino] = true
			rotated += st.Size()
		}
	}
	return rotated, live, idx
}

// numbers parses the lines of s that are whole numbers.
func numbers(s string) []int {
	var out []int
	for _, l := range strings.Split(s, "\n") {
		if n, err := strconv.Atoi(l); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// A finished batch allocation's logs stay readable while its directory
// does: while the agent holds it, and after central stops listing it and
// the agent forgets it (answered from the directory the GC has not
// collected); `alloc logs -f` ends (nothing more will come) instead of
// hanging.
func TestFinishedAllocationLogsReadable(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("a")
	c.waitNode("a", "ready", 20*time.Second)
	job := filepath.Join(t.TempDir(), "once.hcl")
	os.WriteFile(job, []byte(`job "once" {
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {
    task "say" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo said-before-exit; echo oops >&2"]
      }
    }
  }
}
`), 0o644)
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var id string
	eventually(t, 30*time.Second, func() error {
		as := c.allocs("once")
		if len(as) != 1 || as[0].ClientStatus != "complete" {
			return fmt.Errorf("allocations %+v", as)
		}
		id = as[0].ID
		return nil
	})
	// The agent forgets the allocation once central stops listing it; its
	// directory stays (gc_max_allocs 50 is far away).
	dir := filepath.Join(c.dir, "agent-a", "allocs", id)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the finished allocation's directory: %v", err)
	}
	eventually(t, 20*time.Second, func() error {
		out, code := c.cli("alloc", "logs", id)
		if code != 0 || !strings.Contains(out, "said-before-exit") {
			return fmt.Errorf("alloc logs exited %d: %s", code, out)
		}
		return nil
	})
	out, code := c.cli("alloc", "logs", "-stderr", id)
	if code != 0 || !strings.Contains(out, "oops") {
		t.Fatalf("alloc logs -stderr exited %d: %s", code, out)
	}
	// Another job on the node: central's next desired state for it no
	// longer lists the finished allocation, and the agent forgets it
	// (its directory stays until the GC needs the room).
	next := filepath.Join(t.TempDir(), "next.hcl")
	os.WriteFile(next, []byte(`job "next" {
  datacenters = ["dc1"]
  group "g" {
    update {
      max_parallel = 0
    }
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["300"]
      }
    }
  }
}
`), 0o644)
	if out, code := c.cli("job", "submit", next); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	c.waitRunning("next", 1, 30*time.Second)
	out, code = c.cli("alloc", "logs", id)
	if code != 0 || !strings.Contains(out, "said-before-exit") {
		t.Fatalf("alloc logs of the forgotten allocation exited %d: %s", code, out)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, code = c.cli("alloc", "logs", "-f", id)
	}()
	select {
	case <-done:
		if code != 0 || !strings.Contains(out, "said-before-exit") {
			t.Fatalf("alloc logs -f exited %d: %s", code, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alloc logs -f of a finished allocation still running after 20 s")
	}
}
