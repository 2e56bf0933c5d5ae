package fake

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
)

func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitResult(t *testing.T, h drivers.Handle) drivers.ExitResult {
	t.Helper()
	select {
	case r, ok := <-h.Wait():
		if !ok {
			t.Fatal("Wait channel closed without a result")
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("task did not exit")
	}
	return drivers.ExitResult{}
}

func cfg(id string, c map[string]any) *drivers.TaskConfig {
	return &drivers.TaskConfig{ID: id, Config: c}
}

func TestExitControlledByTest(t *testing.T) {
	d := New()
	h, err := d.Start(context.Background(), cfg("a/web", nil))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.Wait():
		t.Fatal("task exited before the test told it to")
	default:
	}
	d.Task("a/web").Exit(3)
	if r := waitResult(t, h); r.ExitCode != 3 {
		t.Fatalf("exit code = %d, want 3", r.ExitCode)
	}
	if _, ok := <-h.Wait(); ok {
		t.Fatal("Wait channel yielded a second result")
	}
}

func TestStartError(t *testing.T) {
	d := New()
	_, err := d.Start(context.Background(), cfg("a/web", map[string]any{"start_error": "no binary"}))
	if !errors.Is(err, ErrStartFailed) {
		t.Fatalf("err = %v, want ErrStartFailed", err)
	}
	if d.Starts("a/web") != 1 || d.Task("a/web") != nil {
		t.Fatalf("starts=%d task=%v, want 1 start and no task", d.Starts("a/web"), d.Task("a/web"))
	}
}

func TestUnknownConfigKey(t *testing.T) {
	_, err := New().Start(context.Background(), cfg("a/web", map[string]any{"exit_afterr": "1s"}))
	if err == nil {
		t.Fatal("want an error for an unknown config key")
	}
}

func TestExitAfter(t *testing.T) {
	for _, after := range []any{"20ms", float64(0.02)} {
		t.Run(fmt.Sprint(after), func(t *testing.T) {
			d := New()
			h, err := d.Start(context.Background(), cfg("a/web", map[string]any{"exit_after": after, "exit_code": int64(4)}))
			if err != nil {
				t.Fatal(err)
			}
			if r := waitResult(t, h); r.ExitCode != 4 {
				t.Fatalf("exit code = %d, want 4", r.ExitCode)
			}
		})
	}
}

func TestStop(t *testing.T) {
	d := New()
	h, _ := d.Start(context.Background(), cfg("a/web", nil))
	if err := h.Stop(time.Second, "SIGINT"); err != nil {
		t.Fatal(err)
	}
	r := waitResult(t, h)
	if r.Signal != 2 {
		t.Fatalf("signal = %d, want 2", r.Signal)
	}
	if got := d.Task("a/web").Signals(); len(got) != 1 || got[0] != "SIGINT" {
		t.Fatalf("signals = %v", got)
	}
}

func TestStopEscalatesWhenIgnored(t *testing.T) {
	d := New()
	h, _ := d.Start(context.Background(), cfg("a/web", map[string]any{"ignore_stop": true}))
	if err := h.Stop(10*time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}
	if r := waitResult(t, h); r.Signal != 9 {
		t.Fatalf("signal = %d, want 9", r.Signal)
	}
	if got := d.Task("a/web").Signals(); len(got) != 2 || got[0] != "SIGTERM" || got[1] != "SIGKILL" {
		t.Fatalf("signals = %v, want [SIGTERM SIGKILL]", got)
	}
}

func TestRecover(t *testing.T) {
	d := New()
	h, _ := d.Start(context.Background(), cfg("a/web", nil))
	st := h.State()
	h2, err := d.Recover(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	d.Task("a/web").Exit(0)
	if r := waitResult(t, h2); !r.Successful() {
		t.Fatalf("recovered handle result = %+v", r)
	}
	if _, err := d.Recover(context.Background(), st); !errors.Is(err, drivers.ErrTaskGone) {
		t.Fatalf("recover of exited task: err = %v, want ErrTaskGone", err)
	}
	if _, err := New().Recover(context.Background(), st); !errors.Is(err, drivers.ErrTaskGone) {
		t.Fatalf("recover on another fake: err = %v, want ErrTaskGone", err)
	}
}

func TestConcurrent(t *testing.T) {
	d := New()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("a/t%d", i)
			h, err := d.Start(context.Background(), cfg(id, nil))
			if err != nil {
				t.Error(err)
				return
			}
			go d.Task(id).Exit(i)
			go h.Stop(time.Millisecond, "")
			<-h.Wait()
			_ = d.Tasks()
		}(i)
	}
	wg.Wait()
	eventually(t, time.Second, func() error {
		if n := len(d.Tasks()); n != 20 {
			return fmt.Errorf("%d tasks", n)
		}
		return nil
	})
}
