package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden vectors in testdata/")

// golden holds one example of every message. Its encoding is pinned in
// testdata/<name>.hex: a change of field numbers or encoding shows up as a
// diff there, which is a protocol change that needs a version bump.
var golden = map[string]any{
	"hello": &Hello{V: Version, NodeID: "2b0c8f1e-node", Name: "pi-kitchen", Datacenter: "dc2",
		Attributes: map[string]string{"cpu.arch": "arm", "kernel.name": "linux"},
		Meta:       map[string]string{"site": "kitchen"}, Drivers: []string{"exec", "wasm"},
		Resources: Resources{CPU: 4000, MemoryMB: 1024, Cores: 4}, Boot: 1700000000000, DesiredIndex: 41,
		Seq: 9, Version: "0.1.0", Time: 1700000000123,
		Allocs: []AllocUpdate{{Seq: 9, AllocID: "a1", ClientStatus: AllocRunning, Time: 1700000000100}}},
	"heartbeat": &Heartbeat{V: Version, Seq: 123456, Time: 1700000000123, Running: 3, Outbox: 2, Boot: 1700000000000},
	"update": &Update{V: Version, Allocs: []AllocUpdate{{
		Seq: 10, AllocID: "a1", ClientStatus: AllocFailed, Description: "task failed", Time: 1700000000200, JobVersion: 2,
		TaskStates: map[string]TaskState{"web": {State: TaskDead, Failed: true, Restarts: 2, StartedAt: 1, FinishedAt: 2, ExitCode: 3,
			Events: []TaskEvent{{Type: EventTerminated, Time: 1700000000199, Message: "exit 3", ExitCode: 3}}}},
	}}},
	"desired": &Desired{V: Version, NodeID: "n1", Index: 77, Time: 1700000000300, Allocs: []DesiredAlloc{{
		ID: "a1", JobID: "web", JobVersion: 2, TaskGroup: "g", Namespace: "default", DesiredStatus: DesiredRun,
		Tasks: []Task{{Name: "web", Driver: "exec", Config: map[string]any{"command": "/bin/web", "args": []any{"-port", "${NOMAD_PORT_http}"}},
			Env: map[string]string{"A": "1"}, Resources: Resources{CPU: 100, MemoryMB: 64}, KillTimeout: 5000}},
		Ports:   []Port{{Label: "http", Value: 8080}},
		Restart: RestartPolicy{Attempts: 2, IntervalMs: 1800000, DelayMs: 15000, Mode: "fail", OnSuccess: true},
	}}},
	"ack":    &Ack{V: Version, Seq: 10},
	"online": &Online{V: Version, Online: false, Time: 1700000000400},
	"svc": &ServiceSet{V: Version, Name: "product-api", Index: 88, Instances: []ServiceInstance{{
		ID: "_tether-task-a1-web-product-api-http", Address: "10.0.0.5", Port: 9090, Tags: []string{"v1"},
		NodeID: "n1", AllocID: "a1", JobID: "hashicups", Datacenter: "dc1", Healthy: true}}},
}

func newOf(v any) any { return reflect.New(reflect.TypeOf(v).Elem()).Interface() }

func TestGoldenVectors(t *testing.T) {
	for name, msg := range golden {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(msg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".hex")
			if *rewrite {
				if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./protocol -rewrite to create it)", err)
			}
			if got := hex.EncodeToString(b); got != strings.TrimSpace(string(want)) {
				t.Fatalf("encoding of %s changed:\n got %s\nwant %s", name, got, want)
			}
			out := newOf(msg)
			if err := Decode(b, out); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, msg) {
				t.Fatalf("round trip changed the message:\n got %#v\nwant %#v", out, msg)
			}
		})
	}
}

func TestEncodingIsDeterministic(t *testing.T) {
	m := &Hello{V: Version, NodeID: "n", Attributes: map[string]string{}}
	for i := 0; i < 50; i++ {
		m.Attributes[string(rune('a'+i%26))+strings.Repeat("x", i)] = "v"
	}
	a, _ := Encode(m)
	for i := 0; i < 20; i++ {
		b, _ := Encode(m)
		if !bytes.Equal(a, b) {
			t.Fatal("two encodings of one message differ")
		}
	}
}

func TestHeartbeatIsSmall(t *testing.T) {
	b, _ := Encode(&Heartbeat{V: Version, Seq: 1 << 40, Time: 1_900_000_000_000, Running: 200, Outbox: 60000, Boot: 1_900_000_000_000})
	if len(b) > 64 {
		t.Fatalf("heartbeat is %d bytes, want <= 64", len(b))
	}
}

func TestDecodeRejects(t *testing.T) {
	dupKeys, _ := hex.DecodeString("a2000101020001") // {0:1, 1:2, 0:1}
	deep := bytes.Repeat([]byte{0x81}, MaxNestedLevels+2)
	bigArray := []byte{0xa2, 0x00, 0x01, 0x01, 0x9a, 0x00, 0x10, 0x00, 0x00} // Update{V:1, Allocs: array(1M)}
	wrongVersion, _ := Encode(&Ack{V: Version + 1, Seq: 1})
	cases := []struct {
		name string
		in   []byte
		into any
		want error
	}{
		{"empty", nil, &Ack{}, ErrMalformed},
		{"garbage", []byte("hello"), &Ack{}, ErrMalformed},
		{"truncated", []byte{0xa2, 0x00}, &Ack{}, ErrMalformed},
		{"duplicate keys", dupKeys, &Ack{}, ErrMalformed},
		{"too deep", deep, &Desired{}, ErrMalformed},
		{"huge array", bigArray, &Update{}, ErrMalformed},
		{"too large", make([]byte, MaxMessageSize+1), &Update{}, ErrTooLarge},
		{"wrong version", wrongVersion, &Ack{}, ErrVersion},
		{"indefinite length", []byte{0xbf, 0x00, 0x01, 0xff}, &Ack{}, ErrMalformed},
		{"unknown field", []byte{0xa2, 0x00, 0x01, 0x18, 0x63, 0x01}, &Ack{}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Decode(c.in, c.into)
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode = %v, want %v", err, c.want)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	tp := Topics{Prefix: "site/x"}
	cases := []struct {
		topic string
		kind  Kind
		id    string
		ok    bool
	}{
		{tp.Hello("n1"), KindHello, "n1", true},
		{tp.Heartbeat("n1"), KindHB, "n1", true},
		{tp.Up("n1"), KindUp, "n1", true},
		{tp.Online("n1"), KindOnline, "n1", true},
		{tp.Desired("n1"), KindDesired, "n1", true},
		{tp.Ack("n1"), KindAck, "n1", true},
		{tp.Service("web"), KindSvc, "web", true},
		{"site/x/node/n1/bogus", "", "", false},
		{"site/x/node//hello", "", "", false},
		{"other/node/n1/hello", "", "", false},
		{"site/x/node/n1/hello/extra", "", "", false},
		{"site/x/svc/", "", "", false},
	}
	for _, c := range cases {
		k, id, ok := tp.Parse(c.topic)
		if k != c.kind || id != c.id || ok != c.ok {
			t.Errorf("Parse(%q) = %q %q %v, want %q %q %v", c.topic, k, id, ok, c.kind, c.id, c.ok)
		}
	}
	if got := (Topics{}).AllNodes(KindHB); got != "tether/v1/node/+/hb" {
		t.Errorf("AllNodes = %q", got)
	}
	for _, bad := range []string{"", "a/b", "a+", "#", "x\x00", strings.Repeat("a", 129)} {
		if ValidID(bad) || CheckID("node id", bad) == nil {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
