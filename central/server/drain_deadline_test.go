package server

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/cli"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// cliOutput is a buffer the CLI writes to while the test reads it.
type cliOutput struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *cliOutput) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *cliOutput) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCLI runs `central args...` against s in the background; the channel
// gets its exit code.
func runCLI(s *Server, args ...string) (stdout, stderr *cliOutput, done <-chan int) {
	stdout, stderr = &cliOutput{}, &cliOutput{}
	ch := make(chan int, 1)
	env := map[string]string{"CENTRAL_ADDR": s.HTTPURL()}
	go func() { ch <- cli.Run(args, stdout, stderr, func(k string) string { return env[k] }) }()
	return stdout, stderr, ch
}

// docs/operations.md: `drain -enable` migrates the node's allocations at
// once; the CLI then waits until none is pending or running and exits 1
// if -deadline passes first. The deadline only bounds that wait: an
// allocation its agent has not reported stopped is still running when it
// expires, and the drain itself goes on.
func TestNodeDrainDeadlineExpires(t *testing.T) {
	s := testServer(t, time.Minute)
	agents := map[string]*wireAgent{}
	for _, id := range []string{"n1", "n2"} {
		agents[id] = newWireAgent(t, s, id)
		agents[id].hello()
		waitReady(t, s, id)
	}
	if _, _, err := s.SubmitJob(context.Background(), testJob(1)); err != nil {
		t.Fatal(err)
	}
	var old *structs.Allocation
	eventually(t, 10*time.Second, func() error {
		as := s.store.AllocsByJob("default", "web")
		if len(as) != 1 {
			return fmt.Errorf("%d allocs", len(as))
		}
		old = as[0]
		return nil
	})
	from := agents[old.NodeID]
	other := "n1"
	if old.NodeID == "n1" {
		other = "n2"
	}
	from.report(1, old.ID, protocol.AllocRunning)
	eventually(t, 10*time.Second, func() error {
		if a := s.store.AllocByID(old.ID); a.ClientStatus != protocol.AllocRunning {
			return fmt.Errorf("alloc %s", a.ClientStatus)
		}
		return nil
	})

	// The agent never reports the alloc stopped: the wait outlives the deadline.
	const deadline = 3 * time.Second
	start := time.Now()
	stdout, stderr, done := runCLI(s, "node", "drain", "-enable", "-yes", "-deadline", deadline.String(), old.NodeID)

	// Before the deadline: the alloc is migrated at once (told to stop, its
	// replacement placed on the other node) yet still running.
	var replacement *structs.Allocation
	eventually(t, 10*time.Second, func() error {
		a := s.store.AllocByID(old.ID)
		if a.DesiredStatus != protocol.DesiredStop || a.DesiredDescription != "alloc is being migrated" {
			return fmt.Errorf("old alloc desired %s %q", a.DesiredStatus, a.DesiredDescription)
		}
		for _, r := range s.store.AllocsByJob("default", "web") {
			if r.PreviousAllocation == old.ID && r.NodeID == other && r.DesiredStatus == protocol.DesiredRun {
				replacement = r
				return nil
			}
		}
		return fmt.Errorf("no replacement on %s yet", other)
	})
	eventually(t, 10*time.Second, func() error {
		d := from.currentDesired()
		if d == nil {
			return fmt.Errorf("agent %s has no desired state yet", old.NodeID)
		}
		for _, da := range d.Allocs {
			if da.ID == old.ID && da.DesiredStatus == protocol.DesiredRun {
				return fmt.Errorf("agent %s is still told to run %s", old.NodeID, old.ID)
			}
		}
		return nil
	})
	if a := s.store.AllocByID(old.ID); a.ClientStatus != protocol.AllocRunning {
		t.Fatalf("old alloc %s before its agent reported anything", a.ClientStatus)
	}

	var code int
	select {
	case code = <-done:
	case <-time.After(deadline + 30*time.Second):
		t.Fatalf("drain did not return %v after its %v deadline:\n%s%s", 30*time.Second, deadline, stdout, stderr)
	}
	if took := time.Since(start); took < deadline {
		t.Fatalf("drain returned after %v, before its %v deadline:\n%s%s", took, deadline, stdout, stderr)
	}
	want := fmt.Sprintf("drain deadline of %s reached with allocations still running on node %q", deadline, old.NodeID)
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, want 1 with %q:\n%s%s", code, want, stdout, stderr)
	}
	if a := s.store.AllocByID(old.ID); a.ClientStatus != protocol.AllocRunning || a.DesiredStatus != protocol.DesiredStop {
		t.Fatalf("after the deadline the old alloc is %s/%s, want running/stop (the deadline stops nothing itself)", a.ClientStatus, a.DesiredStatus)
	}
	if n := s.store.NodeByID(old.NodeID); !n.Drain || n.Eligible {
		t.Fatalf("after the deadline node drain=%v eligible=%v, want the drain still on", n.Drain, n.Eligible)
	}
	if r := s.store.AllocByID(replacement.ID); r.DesiredStatus != protocol.DesiredRun {
		t.Fatalf("replacement %s desired %s", r.ID, r.DesiredStatus)
	}

	// Once the agent reports it stopped, the same command ends with 0.
	from.report(2, old.ID, protocol.AllocComplete)
	stdout, stderr, done = runCLI(s, "node", "drain", "-enable", "-deadline", "1m", old.NodeID)
	select {
	case code = <-done:
	case <-time.After(time.Minute + 30*time.Second):
		t.Fatalf("second drain did not return:\n%s%s", stdout, stderr)
	}
	if code != 0 || !strings.Contains(stdout.String(), "have stopped") {
		t.Fatalf("second drain exit %d:\n%s%s", code, stdout, stderr)
	}
}
