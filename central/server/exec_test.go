package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/protocol"
)

// An agent that does not advertise tether.exec is refused with a message,
// and nothing is published to it.
func TestExecRefusedToAnOldAgent(t *testing.T) {
	s := testServer(t, 10*time.Second)
	a := newWireAgent(t, s, "n1")
	got := make(chan struct{}, 1)
	a.c.Subscribe(a.topics.Exec("n1"), 1, func(paho.Client, paho.Message) { got <- struct{}{} }).Wait()
	a.hello()
	waitReady(t, s, "n1")
	_, err := s.OpenExec(context.Background(), api.ExecRequest{NodeID: "n1", AllocID: "a1", Task: "t", Command: []string{"sh"}})
	if !errors.Is(err, api.ErrExecUnsupported) || !strings.Contains(err.Error(), "predates alloc exec: upgrade it") {
		t.Fatalf("OpenExec to an old agent: %v", err)
	}
	select {
	case <-got:
		t.Fatal("an exec request reached an agent that does not run them")
	case <-time.After(200 * time.Millisecond):
	}
}

// What central puts on the wire: a request and input frames signed with
// its key, numbered; the agent's output and exit come back on the stream.
func TestExecOnTheWire(t *testing.T) {
	s := testServer(t, 10*time.Second)
	a := newWireAgent(t, s, "n1")
	reqs := make(chan protocol.ExecRequest, 1)
	ins := make(chan protocol.ExecIn, 16)
	a.c.Subscribe(a.topics.Exec("n1"), 1, func(_ paho.Client, m paho.Message) {
		var r protocol.ExecRequest
		if protocol.Decode(m.Payload(), &r) == nil {
			reqs <- r
		}
	}).Wait()
	a.c.Subscribe(a.topics.ExecIn("n1", "+"), 1, func(_ paho.Client, m paho.Message) {
		var f protocol.ExecIn
		if protocol.Decode(m.Payload(), &f) == nil {
			ins <- f
		}
	}).Wait()
	a.publish(a.topics.Hello(a.id), 1, &protocol.Hello{V: protocol.Version, NodeID: "n1", Name: "node-n1", Datacenter: "dc1",
		Drivers: []string{"exec"}, Attributes: map[string]string{protocol.AttrExec: "1"}, Resources: protocol.Resources{CPU: 1000, MemoryMB: 512}})
	waitReady(t, s, "n1")
	if _, err := s.ensureKeyring(); err != nil { // made with the first join token otherwise
		t.Fatal(err)
	}
	keys := s.signingKeys()
	if len(keys) == 0 {
		t.Fatal("central has no signing key")
	}
	pub := keys[0].Public().(ed25519.PublicKey)

	st, err := s.OpenExec(context.Background(), api.ExecRequest{NodeID: "n1", AllocID: "a1", Task: "t", Command: []string{"sh", "-c", "ls"}, TTY: true, Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var req protocol.ExecRequest
	select {
	case req = <-reqs:
	case <-time.After(5 * time.Second):
		t.Fatal("no exec request on the wire")
	}
	if err := protocol.VerifyExecRequest(&req, pub); err != nil {
		t.Fatalf("the request does not verify with central's key: %v", err)
	}
	ahead := time.Until(time.UnixMilli(req.Expires))
	if req.NodeID != "n1" || req.AllocID != "a1" || req.Task != "t" || !req.TTY || req.Width != 80 || ahead < 20*time.Second || ahead > protocol.MaxExecTTL*time.Second {
		t.Fatalf("request %+v (expires in %s)", req, ahead)
	}
	if _, err := st.Write([]byte("ls\n")); err != nil {
		t.Fatal(err)
	}
	_ = st.Resize(100, 30)
	for want := uint64(1); want <= 2; want++ {
		select {
		case f := <-ins:
			if f.Seq != want || f.Session != req.Session || protocol.VerifyExecIn(&f, pub) != nil {
				t.Fatalf("input frame %d: %+v", want, f)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no input frame %d", want)
		}
	}
	out := a.topics.ExecOut("n1", req.Session)
	a.publish(out, 1, &protocol.ExecOut{V: protocol.Version, Session: req.Session, Seq: 1, Stdout: []byte("file\n"), Ack: 3})
	a.publish(out, 1, &protocol.ExecOut{V: protocol.Version, Session: req.Session, Seq: 1, Stdout: []byte("file\n")}) // a duplicate
	a.publish(out, 1, &protocol.ExecOut{V: protocol.Version, Session: req.Session, Seq: 2, Stdout: make([]byte, protocol.MaxExecChunk+1)})
	a.publish(out, 1, &protocol.ExecOut{V: protocol.Version, Session: req.Session, Seq: 3, Exited: true, ExitCode: 3})
	var got []*protocol.ExecOut
	for f := range st.Output() {
		got = append(got, f)
	}
	if len(got) != 2 || string(got[0].Stdout) != "file\n" || !got[1].Exited || got[1].ExitCode != 3 {
		t.Fatalf("stream gave %d frames: %+v", len(got), got)
	}
	if n := s.currentLeader().gw.Drops()["too_large"] + s.currentLeader().gw.Drops()["malformed"]; n == 0 {
		t.Fatal("the oversize output frame was not counted")
	}
}
