//go:build linux

package exec

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// A task whose shell waits while a child burns CPU: the usage counts the
// whole process group (or the task's cgroup), not only the leader.
func TestStatsCountTheProcessGroup(t *testing.T) {
	d := New(testLogger())
	cfg := newTask(t, "a1/web", `(while :; do :; done) & touch ready; wait`)
	h := start(t, d, cfg)
	waitFile(t, filepath.Join(cfg.TaskDir, "ready"))
	eventually(t, 20*time.Second, func() error {
		u, err := h.(drivers.Statser).Stats()
		if err != nil {
			return err
		}
		if u.CPUSeconds < 0.2 || u.RSSBytes == 0 {
			return fmt.Errorf("usage %+v: want the child's CPU time (0.2 s and more) and memory", u)
		}
		return nil
	})
	// Without a cgroup the driver reads /proc: the group's ticks.
	eventually(t, 20*time.Second, func() error {
		sd := h.(*handle).sd
		rss, ticks, err := groupUsage(sd.Pid, sd.Pgid)
		if err != nil {
			return err
		}
		if ticks < 20 || rss == 0 {
			return fmt.Errorf("process group: %d ticks, %d pages: want the child's (20 ticks and more)", ticks, rss)
		}
		return nil
	})
	_ = h.Stop(0, "SIGKILL")
	wait(t, h, 5*time.Second)
}
