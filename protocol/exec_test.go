package protocol

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func init() {
	golden["exec_request"] = &ExecRequest{V: Version, Session: "s1", NodeID: "n1", AllocID: "a1", Task: "web",
		Command: []string{"sh", "-c", "echo hi"}, TTY: true, Width: 80, Height: 24, Expires: 1700000030000}
	golden["exec_in"] = &ExecIn{V: Version, Session: "s1", Seq: 2, Stdin: []byte("ls\n"), Width: 100, Height: 30, Ack: 4096}
	golden["exec_out"] = &ExecOut{V: Version, Session: "s1", Seq: 5, Stdout: []byte("hi\n"), Ack: 3, Exited: true, ExitCode: 3}
}

func TestExecTopics(t *testing.T) {
	tp := Topics{}
	if got := tp.Exec("n1"); got != "tether/v1/node/n1/exec" {
		t.Fatal(got)
	}
	if got := tp.ExecIn("n1", "s1"); got != "tether/v1/node/n1/exec/s1/in" {
		t.Fatal(got)
	}
	if got := tp.ExecOut("n1", "s1"); got != "tether/v1/node/n1/exec/s1/out" {
		t.Fatal(got)
	}
	for _, c := range []struct {
		topic, node, session, dir string
		ok                        bool
	}{
		{"tether/v1/node/n1/exec", "n1", "", "", true},
		{"tether/v1/node/n1/exec/s1/in", "n1", "s1", "in", true},
		{"tether/v1/node/n1/exec/s1/out", "n1", "s1", "out", true},
		{"tether/v1/node/n1/exec/s1", "", "", "", false},
		{"tether/v1/node/n1/exec/s1/err", "", "", "", false},
		{"tether/v1/node/n1/exec/+/in", "", "", "", false},
		{"tether/v1/node/+/exec", "", "", "", false},
		{"tether/v1/node/n1/logs/s1/in", "", "", "", false},
		{"other/node/n1/exec", "", "", "", false},
	} {
		n, s, d, ok := tp.ParseExec(c.topic)
		if n != c.node || s != c.session || d != c.dir || ok != c.ok {
			t.Errorf("ParseExec(%q) = %q %q %q %v, want %q %q %q %v", c.topic, n, s, d, ok, c.node, c.session, c.dir, c.ok)
		}
	}
	if _, _, ok := tp.Parse("tether/v1/node/n1/exec"); ok {
		t.Error("Parse accepts the exec topic: it belongs to ParseExec")
	}
}

func TestCheckExecRequest(t *testing.T) {
	ok := *golden["exec_request"].(*ExecRequest)
	if err := CheckExecRequest(&ok); err != nil {
		t.Fatal(err)
	}
	long := make([]string, MaxExecArgs+1)
	for i := range long {
		long[i] = "x"
	}
	for name, mod := range map[string]func(r *ExecRequest){
		"no command":    func(r *ExecRequest) { r.Command = nil },
		"empty program": func(r *ExecRequest) { r.Command = []string{""} },
		"too many args": func(r *ExecRequest) { r.Command = long },
		"huge command":  func(r *ExecRequest) { r.Command = []string{string(make([]byte, MaxExecCommandSize+1))} },
		"bad session":   func(r *ExecRequest) { r.Session = "a/b" },
		"wildcard node": func(r *ExecRequest) { r.NodeID = "+" },
		"no task":       func(r *ExecRequest) { r.Task = "" },
	} {
		r := ok
		mod(&r)
		if err := CheckExecRequest(&r); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestExecSignatures(t *testing.T) {
	pub := fuzzKey.Public().(ed25519.PublicKey)
	_, other, _ := ed25519.GenerateKey(nil)
	r := *golden["exec_request"].(*ExecRequest)
	if err := VerifyExecRequest(&r, pub); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	if err := SignExecRequest(&r, fuzzKey); err != nil {
		t.Fatal(err)
	}
	if err := VerifyExecRequest(&r, pub); err != nil {
		t.Fatal(err)
	}
	changed := r
	changed.Command = []string{"rm", "-rf", "/"}
	if err := VerifyExecRequest(&changed, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed command verifies: %v", err)
	}
	forged := r
	_ = SignExecRequest(&forged, other)
	if err := VerifyExecRequest(&forged, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key verifies: %v", err)
	}
	f := *golden["exec_in"].(*ExecIn)
	if err := SignExecIn(&f, fuzzKey); err != nil {
		t.Fatal(err)
	}
	if err := VerifyExecIn(&f, pub); err != nil {
		t.Fatal(err)
	}
	f.Stdin = []byte("reboot\n")
	if err := VerifyExecIn(&f, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("changed stdin verifies: %v", err)
	}
}

// A full frame (MaxExecChunk of data, a signature) fits well under the
// message limit.
func TestExecFrameSize(t *testing.T) {
	in := ExecIn{V: Version, Session: string(bytes.Repeat([]byte("s"), 128)), Seq: 1 << 60, Stdin: make([]byte, MaxExecChunk), Ack: 1 << 60}
	_ = SignExecIn(&in, fuzzKey, fuzzKey)
	b, err := Encode(&in)
	if err != nil || len(b) > MaxExecChunk+512 {
		t.Fatalf("a full stdin frame is %d bytes (%v)", len(b), err)
	}
}

func FuzzDecodeExecRequest(f *testing.F) { fuzzDecode[ExecRequest](f, golden["exec_request"]) }
func FuzzDecodeExecIn(f *testing.F)      { fuzzDecode[ExecIn](f, golden["exec_in"]) }
func FuzzDecodeExecOut(f *testing.F)     { fuzzDecode[ExecOut](f, golden["exec_out"]) }

// FuzzVerifyExecRequest is what an agent does with an exec request:
// decode, check, verify. A request that verifies must be the one signed.
func FuzzVerifyExecRequest(f *testing.F) {
	signed := *golden["exec_request"].(*ExecRequest)
	if err := SignExecRequest(&signed, fuzzKey); err != nil {
		f.Fatal(err)
	}
	want, _ := Encode(&signed)
	f.Add(want)
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ExecRequest
		if Decode(data, &r) != nil || CheckExecRequest(&r) != nil {
			return
		}
		if err := VerifyExecRequest(&r, pub); err != nil {
			if !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("verify error wraps no sentinel: %v", err)
			}
			return
		}
		if got, _ := Encode(&r); !bytes.Equal(got, want) {
			t.Fatalf("an exec request that was never signed verifies:\n%x", got)
		}
	})
}

func FuzzParseExecTopic(f *testing.F) {
	f.Add("tether/v1/node/n1/exec")
	f.Add("tether/v1/node/n1/exec/s1/in")
	f.Fuzz(func(t *testing.T, topic string) {
		n, s, d, ok := Topics{}.ParseExec(topic)
		if ok && (!ValidID(n) || s != "" && !ValidID(s) || (s == "") != (d == "")) {
			t.Fatalf("ParseExec(%q) accepted %q %q %q", topic, n, s, d)
		}
	})
}
