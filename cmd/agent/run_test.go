package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/tether-edge/tether/protocol"
)

// syncBuffer is a bytes.Buffer safe for the agent's logger and the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunFlagsAndErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.hcl")
	os.WriteFile(bad, []byte("name = \"x\"\nbrokers = \"tcp://h:1\"\n"), 0o600)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"version", []string{"-version"}, 0, "agent dev\n", ""},
		{"version subcommand", []string{"version"}, 0, "agent dev\n", ""},
		{"help", []string{"-help"}, 0, "", "-data-dir"},
		{"unknown flag", []string{"-nope"}, 2, "", "flag provided but not defined: -nope"},
		{"argument", []string{"extra"}, 2, "", `unexpected argument "extra"`},
		{"bad config file", []string{"-config", bad}, 1, "", "bad.hcl:2: brokers must be a list of broker URLs"},
		{"bad flag value", []string{"-broker", "http://x:1"}, 1, "", `scheme "http" not supported`},
		{"missing config", []string{"-config", "/nonexistent/agent.hcl"}, 1, "", "check the -config path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"agent"}, tt.args...), &out, &errb)
			if code != tt.code || out.String() != tt.stdout && tt.stdout != "" || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("code %d stdout %q stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

func TestRunConnectsAndStopsOnSIGTERM(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true})
	srv.AddHook(new(auth.AllowHook), nil)
	srv.AddListener(listeners.NewNet("tcp", ln))
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	var hellos int
	srv.Subscribe(protocol.DefaultPrefix+"/node/+/hello", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		mu.Lock()
		hellos++
		mu.Unlock()
	})

	dir := t.TempDir()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"agent", "-name", "n1", "-data-dir", dir, "-broker", "tcp://" + ln.Addr().String(), "-log-level", "debug"}, &out, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := hellos
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no hello; stderr:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The agent is running (its signal handler is installed before it connects).
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d; stderr:\n%s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
	if !strings.Contains(errb.String(), "tasks keep running") {
		t.Fatalf("no graceful stop message in:\n%s", errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "state.db")); err != nil {
		t.Fatal(fmt.Errorf("state file: %w", err))
	}
}

// The join token in the environment is read once and removed, so the
// agent's tasks (${env.TETHER_JOIN_TOKEN}, child processes) never see it.
func TestRunRemovesJoinTokenFromEnvironment(t *testing.T) {
	t.Setenv("TETHER_JOIN_TOKEN", "s3cret")
	var out, errb bytes.Buffer
	if code := run([]string{"agent", "-broker", "http://x:1"}, &out, &errb); code != 1 {
		t.Fatalf("code %d stderr %q", code, errb.String())
	}
	if v, ok := os.LookupEnv("TETHER_JOIN_TOKEN"); ok {
		t.Fatalf("TETHER_JOIN_TOKEN still in the environment: %q", v)
	}
}
