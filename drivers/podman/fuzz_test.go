package podman

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/tether-edge/tether/drivers"
)

// FuzzLogStream feeds arbitrary bytes (what the Podman socket sends) to the
// log copier: it must never panic and never write more than it read.
func FuzzLogStream(f *testing.F) {
	f.Add(append(frame(1, "2026-11-26T12:23:50Z out\n"), frame(2, "2026-11-26T12:23:50Z err\n")...))
	f.Add(frame(3, "error from the daemon"))
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add(frame(1, "not stamped"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errw bytes.Buffer
		lc := &logCopier{id: "f", log: slog.New(slog.NewTextHandler(io.Discard, nil)), stdout: &out, stderr: &errw}
		_ = lc.copy(bytes.NewReader(in))
		if out.Len()+errw.Len() > len(in) {
			t.Fatalf("wrote %d bytes from %d", out.Len()+errw.Len(), len(in))
		}
	})
}

// FuzzDecodeState: HandleState.Data comes from the agent's state file.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"45e559629fba9b1b66827dd333bef04c4bc9aff91494c76e07a8336b7b7e88c8","name":"tether-a_web","stdout":"/a/o","stderr":"/a/e","cursor":"/a/c"}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := decodeState(in)
		if err != nil {
			return
		}
		again, err := decodeState(s.encode())
		if err != nil || again != s {
			t.Fatalf("round trip: %+v -> %+v, %v", s, again, err)
		}
	})
}

// FuzzTaskConfig: the config block comes from a user's job file (as JSON
// through the API). Decoding must never panic and must accept or reject
// with ErrBadConfig.
func FuzzTaskConfig(f *testing.F) {
	f.Add([]byte(`{"image":"localhost/web:1","command":"/bin/sh","args":["-c","echo hi"],"ports":["http"],"volumes":["/a:/b:ro","rel:/c"],"labels":{"a":"b"},"network_mode":"host","force_pull":true}`))
	f.Add([]byte(`{"image":"x","labels":[{"a":1}],"ports":[1,2]}`))
	f.Add([]byte(`{"image":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m map[string]any
		if json.Unmarshal(in, &m) != nil {
			return
		}
		cfg := &drivers.TaskConfig{ID: "a/t", TaskDir: "/t", Config: m, Ports: []drivers.Port{{Label: "http", Value: 8080}}}
		tc, err := parseTaskConfig(cfg)
		if err != nil {
			return
		}
		_ = buildSpec(cfg, tc)
		if checkImageRef(tc.image) != nil {
			t.Fatalf("accepted image %q", tc.image)
		}
	})
}
