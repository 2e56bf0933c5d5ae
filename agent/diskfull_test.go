package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
	"github.com/tether-edge/tether/internal/testhost"
	"github.com/tether-edge/tether/protocol"
)

// smallFS mounts a tmpfs of size bytes on a new directory and unmounts it
// at cleanup. It needs root (CI runs as root).
func smallFS(t *testing.T, size int) string {
	t.Helper()
	testhost.Require(t, os.Geteuid() == 0, "root to mount a tmpfs", "run the tests as root, as CI does")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes files under dir until the filesystem is full and returns a
// function that frees the space again.
func fill(t *testing.T, dir string) (free func()) {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{1}, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for { // the last partial pages
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	return func() {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
}

// An agent whose data filesystem is full keeps its tasks running, and
// what happened meanwhile reaches central once space returns.
func TestDiskFull(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0")
	dir := smallFS(t, 8<<20)
	drv := fake.New()
	a := startAgentGC(t, dir, b.url(), drv, func(c *config.Config) {}, statfs)
	id := a.NodeID()
	svc := serviceAlloc("svc", nil)
	batch := batchAlloc("b1")
	batch.Tasks[0].Config = nil // exits when the test says
	b.publish(topics.Desired(id), desired(id, 1, svc, batch), true)
	waitStatus(t, b, id, "svc", protocol.AllocRunning)
	waitStatus(t, b, id, "b1", protocol.AllocRunning)

	free := fill(t, dir)
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Bavail != 0 {
		t.Fatalf("not full: %d blocks available (%v)", st.Bavail, err)
	}
	// While full: the batch task finishes, the service task restarts 20
	// times, with events large enough that the state file must grow to
	// record them (it may reuse its free pages for small ones).
	drv.Task("b1/t").Exit(0)
	for i := 0; i < 20; i++ {
		drv.Task("svc/t").ExitWith(drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("lost %d: %s", i, strings.Repeat("x", 4000))})
		eventually(t, 10*time.Second, func() error {
			if drv.Starts("svc/t") < i+2 || drv.Task("svc/t").Exited() {
				return fmt.Errorf("svc not restarted (%d starts)", drv.Starts("svc/t"))
			}
			return nil
		})
	}
	if got := lastStatus(b.updates(id), "svc"); got != protocol.AllocRunning {
		t.Fatalf("svc is %q while the disk is full", got)
	}
	c := a.Counters()
	t.Logf("while full: %d updates held, %d failed attempts to record", c.HeldUpdates, c.RecordFailures)
	if c.RecordFailures == 0 {
		t.Fatal("the state file took every update on a full disk: the test did not fill it")
	}
	free()
	waitStatus(t, b, id, "b1", protocol.AllocComplete)
	eventually(t, 10*time.Second, func() error {
		ups := b.updates(id)
		for i := len(ups) - 1; i >= 0; i-- {
			if ups[i].AllocID == "svc" {
				if r := ups[i].TaskStates["t"].Restarts; r != 20 {
					return fmt.Errorf("svc restarts %d, want 20", r)
				}
				return nil
			}
		}
		return fmt.Errorf("no svc update")
	})
	eventually(t, 10*time.Second, func() error {
		if c := a.Counters(); c.HeldUpdates != 0 {
			return fmt.Errorf("%d updates still held", c.HeldUpdates)
		}
		return nil
	})
	// And it runs new work again.
	b.publish(topics.Desired(id), desired(id, 2, svc, batchAlloc("b2")), true)
	waitStatus(t, b, id, "b2", protocol.AllocComplete)
}
