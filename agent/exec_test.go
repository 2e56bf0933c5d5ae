package agent

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"
	execdrv "github.com/tether-edge/tether/drivers/exec"
	"github.com/tether-edge/tether/protocol"
)

// execAgent is an enrolled agent (central's key pinned) running one exec
// task, for exec session tests.
type execAgent struct {
	a    *Agent
	b    *testBroker
	key  ed25519.PrivateKey
	id   string
	dir  string
	seqs map[string]uint64
}

func startExecAgent(t *testing.T) *execAgent {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	central := newRotatingCentral(t, pub)
	b := startBroker(t, "127.0.0.1:0")
	dir := t.TempDir()
	cfg := testConfig(dir, b.url())
	cfg.JoinToken, cfg.Central = "jt", central.srv.URL
	drv := execdrv.NewWithOptions(execdrv.Options{Logger: quietLogger(), DisableCgroups: true})
	a, err := New(Options{Config: cfg, Drivers: []drivers.Driver{drv}, Logger: quietLogger(), FingerprintRoot: "fingerprint/testdata/pi4",
		RetryInterval: 50 * time.Millisecond, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	id := a.NodeID()
	al := serviceAlloc("ex1", map[string]any{"command": "/bin/sh", "args": []any{"-c", "sleep 120"}})
	al.Tasks[0].Driver = "exec"
	d := desired(id, 1, al)
	if err := protocol.SignDesired(d, priv); err != nil {
		t.Fatal(err)
	}
	b.publish(topics.Desired(id), d, true)
	waitStatus(t, b, id, "ex1", protocol.AllocRunning)
	t.Cleanup(func() {
		stop := desired(id, 2)
		_ = protocol.SignDesired(stop, priv)
		b.publish(topics.Desired(id), stop, true)
		waitStatus(t, b, id, "ex1", protocol.AllocComplete)
	})
	return &execAgent{a: a, b: b, key: priv, id: id, dir: dir, seqs: map[string]uint64{}}
}

func (e *execAgent) request(session string, cmd ...string) *protocol.ExecRequest {
	return &protocol.ExecRequest{V: protocol.Version, Session: session, NodeID: e.id, AllocID: "ex1", Task: "t",
		Command: cmd, Expires: time.Now().Add(protocol.ExecRequestTTL * time.Second).UnixMilli()}
}

func (e *execAgent) signed(r *protocol.ExecRequest) *protocol.ExecRequest {
	if err := protocol.SignExecRequest(r, e.key); err != nil {
		panic(err)
	}
	return r
}

// input sends central's next signed frame of session.
func (e *execAgent) input(session string, f protocol.ExecIn) {
	e.seqs[session]++
	f.V, f.Session, f.Seq = protocol.Version, session, e.seqs[session]
	_ = protocol.SignExecIn(&f, e.key)
	e.b.publish(topics.ExecIn(e.id, session), &f, false)
}

// output is what the agent sent for session so far: stdout, and the end
// frame if it came.
func (e *execAgent) output(t *testing.T, session string) (string, *protocol.ExecOut) {
	var out strings.Builder
	var end *protocol.ExecOut
	for _, p := range e.b.received(topics.ExecOut(e.id, session)) {
		var f protocol.ExecOut
		if err := protocol.Decode(p, &f); err != nil {
			t.Fatalf("bad exec output: %v", err)
		}
		out.Write(f.Stdout)
		if f.Exited || f.Err != "" {
			end = &f
		}
	}
	return out.String(), end
}

func (e *execAgent) waitEnd(t *testing.T, session string) (string, *protocol.ExecOut) {
	t.Helper()
	var out string
	var end *protocol.ExecOut
	eventually(t, 20*time.Second, func() error {
		if out, end = e.output(t, session); end == nil {
			return fmt.Errorf("session %s not ended; output so far %q", session, out)
		}
		return nil
	})
	return out, end
}

func TestExecSession(t *testing.T) {
	e := startExecAgent(t)
	e.b.publish(topics.Exec(e.id), e.signed(e.request("s1", "sh", "-c", "read l; echo got $l; exit 3")), false)
	eventually(t, 10*time.Second, func() error {
		if e.a.ExecCounters().Started != 1 {
			return fmt.Errorf("not started: %+v", e.a.ExecCounters())
		}
		return nil
	})
	e.input("s1", protocol.ExecIn{Stdin: []byte("hello\n")})
	out, end := e.waitEnd(t, "s1")
	if out != "got hello\n" || !end.Exited || end.ExitCode != 3 {
		t.Fatalf("output %q, end %+v; want \"got hello\" and exit code 3", out, end)
	}
}

// A compromised broker (or anyone who can publish on it) cannot make the
// agent run a command: unsigned, forged, expired, replayed requests and
// requests for another node are refused and counted, and nothing runs.
func TestExecRequestAttacks(t *testing.T) {
	e := startExecAgent(t)
	marker := filepath.Join(e.dir, "pwned")
	touch := []string{"sh", "-c", "touch " + marker}
	_, attacker, _ := ed25519.GenerateKey(nil)

	// A genuine request, to replay later.
	genuine := e.signed(e.request("real", "true"))
	e.b.publish(topics.Exec(e.id), genuine, false)
	if _, end := e.waitEnd(t, "real"); !end.Exited || end.ExitCode != 0 {
		t.Fatalf("genuine request: %+v", end)
	}

	forged := e.request("forged", touch...)
	_ = protocol.SignExecRequest(forged, attacker)
	tampered := *genuine
	tampered.Command = touch
	expired := e.request("expired", touch...)
	expired.Expires = time.Now().Add(-time.Second).UnixMilli()
	farAhead := e.request("ahead", touch...)
	farAhead.Expires = time.Now().Add(time.Hour).UnixMilli()
	otherNode := e.request("other", touch...)
	otherNode.NodeID = "someone-else"
	attacks := []struct {
		name string
		msg  any
	}{
		{"unsigned", e.request("unsigned", touch...)},
		{"forged", forged},
		{"tampered", &tampered},
		{"expired", e.signed(expired)},
		{"too far ahead", e.signed(farAhead)},
		{"for another node", e.signed(otherNode)},
		{"replayed", genuine},
		{"garbage", []byte{0xa1, 0x00, 0x63}},
	}
	before := e.a.ExecCounters()
	for _, at := range attacks {
		e.b.publish(topics.Exec(e.id), at.msg, false)
	}
	eventually(t, 10*time.Second, func() error {
		if got := e.a.ExecCounters().Refused - before.Refused; got != uint64(len(attacks)) {
			return fmt.Errorf("%d of %d attacks refused", got, len(attacks))
		}
		return nil
	})
	if c := e.a.ExecCounters(); c.Started != before.Started {
		t.Fatalf("an attack started a command: %+v", c)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an attack ran its command")
	}
	// Central learns why its own expired request was refused.
	if _, end := e.waitEnd(t, "expired"); !strings.Contains(end.Err, "expired") {
		t.Fatalf("expired request answered %+v", end)
	}
}

// Stdin cannot be injected into a session central opened: frames not
// signed by central, replayed or oversize are dropped and counted.
func TestExecInputAttacks(t *testing.T) {
	e := startExecAgent(t)
	e.b.publish(topics.Exec(e.id), e.signed(e.request("s1", "sh", "-c", "while read l; do echo \"in:$l\"; done")), false)
	eventually(t, 10*time.Second, func() error {
		if e.a.ExecCounters().Started != 1 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	e.input("s1", protocol.ExecIn{Stdin: []byte("one\n")})
	eventually(t, 10*time.Second, func() error {
		if out, _ := e.output(t, "s1"); out != "in:one\n" {
			return fmt.Errorf("output %q", out)
		}
		return nil
	})
	_, attacker, _ := ed25519.GenerateKey(nil)
	unsigned := protocol.ExecIn{V: protocol.Version, Session: "s1", Seq: 100, Stdin: []byte("unsigned\n")}
	forged := protocol.ExecIn{V: protocol.Version, Session: "s1", Seq: 101, Stdin: []byte("forged\n")}
	_ = protocol.SignExecIn(&forged, attacker)
	replay := protocol.ExecIn{V: protocol.Version, Session: "s1", Seq: 1, Stdin: []byte("one\n")}
	_ = protocol.SignExecIn(&replay, e.key)
	oversize := protocol.ExecIn{V: protocol.Version, Session: "s1", Seq: 102, Stdin: make([]byte, protocol.MaxExecChunk+1)}
	_ = protocol.SignExecIn(&oversize, e.key)
	for _, f := range []protocol.ExecIn{unsigned, forged, replay, oversize} {
		e.b.publish(topics.ExecIn(e.id, "s1"), &f, false)
	}
	eventually(t, 10*time.Second, func() error {
		if got := e.a.ExecCounters().Dropped; got != 4 {
			return fmt.Errorf("%d of 4 frames dropped", got)
		}
		return nil
	})
	e.input("s1", protocol.ExecIn{Stdin: []byte("two\n"), EOF: true})
	out, end := e.waitEnd(t, "s1")
	if out != "in:one\nin:two\n" || end.ExitCode != 0 {
		t.Fatalf("output %q (end %+v); want only central's input", out, end)
	}
}

// At most maxExecSessions run on a node; the next is refused with a
// message, and a slot frees when a session ends.
func TestExecSessionLimit(t *testing.T) {
	e := startExecAgent(t)
	for i := range maxExecSessions {
		e.b.publish(topics.Exec(e.id), e.signed(e.request(fmt.Sprintf("long%d", i), "sleep", "60")), false)
	}
	eventually(t, 10*time.Second, func() error {
		if got := e.a.ExecCounters().Started; got != maxExecSessions {
			return fmt.Errorf("%d sessions started", got)
		}
		return nil
	})
	e.b.publish(topics.Exec(e.id), e.signed(e.request("one-too-many", "true")), false)
	if _, end := e.waitEnd(t, "one-too-many"); !strings.Contains(end.Err, "too many exec sessions") {
		t.Fatalf("the fifth session: %+v", end)
	}
	e.input("long0", protocol.ExecIn{Close: true})
	eventually(t, 10*time.Second, func() error {
		e.b.publish(topics.Exec(e.id), e.signed(e.request(fmt.Sprintf("after-%d", time.Now().UnixNano()), "true")), false)
		if got := e.a.ExecCounters().Started; got <= maxExecSessions {
			return fmt.Errorf("%d sessions started: no slot freed", got)
		}
		return nil
	})
	for i := 1; i < maxExecSessions; i++ {
		e.input(fmt.Sprintf("long%d", i), protocol.ExecIn{Close: true})
	}
}
