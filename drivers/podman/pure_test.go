package podman

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers"

	"github.com/tether-edge/tether/drivers/logfile"
)

func TestSocketPath(t *testing.T) {
	for _, tc := range []struct{ opt, host, want string }{
		{"", "", DefaultSocket},
		{"/x/p.sock", "", "/x/p.sock"},
		{"unix:///x/p.sock", "", "/x/p.sock"},
		{"", "unix:///run/user/1000/podman/podman.sock", "/run/user/1000/podman/podman.sock"},
		{"", "ssh://core@host/run/podman/podman.sock", DefaultSocket},
		{"/opt.sock", "unix:///env.sock", "/opt.sock"},
	} {
		if got := socketPath(tc.opt, tc.host); got != tc.want {
			t.Errorf("socketPath(%q, %q) = %q, want %q", tc.opt, tc.host, got, tc.want)
		}
	}
}

func baseTask() *drivers.TaskConfig {
	return &drivers.TaskConfig{
		ID: "a1/web", AllocID: "a1", TaskName: "web", JobID: "j", TaskDir: "/data/a1/web",
		AllocDir: "/data/a1/alloc", LocalDir: "/data/a1/web/local", SecretDir: "/data/a1/web/secrets",
		Ports:  []drivers.Port{{Label: "http", Value: 20001, To: 8080}, {Label: "admin", Value: 20002}},
		Config: map[string]any{"image": "localhost/web:1"},
	}
}

func TestParseTaskConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  map[string]any
		want    func(*taskConfig) bool
		wantErr string
	}{
		{"minimal", map[string]any{"image": "localhost/web:1"}, func(c *taskConfig) bool {
			return c.image == "localhost/web:1" && c.command == nil && c.networkMode == netBridge
		}, ""},
		{"command and args", map[string]any{"image": "x", "command": "/bin/sh", "args": []any{"-c", int64(3)}}, func(c *taskConfig) bool {
			return reflect.DeepEqual(c.command, []string{"/bin/sh", "-c", "3"})
		}, ""},
		{"args alone feed the entrypoint", map[string]any{"image": "x", "args": []any{"--port", "80"}}, func(c *taskConfig) bool {
			return reflect.DeepEqual(c.command, []string{"--port", "80"})
		}, ""},
		{"ports map To or Value", map[string]any{"image": "x", "ports": []any{"http", "admin"}}, func(c *taskConfig) bool {
			return reflect.DeepEqual(c.ports, []portMapping{{"http", 20001, 8080}, {"admin", 20002, 20002}})
		}, ""},
		{"host network maps nothing", map[string]any{"image": "x", "network_mode": "host", "ports": []any{"http"}}, func(c *taskConfig) bool {
			return c.networkMode == netHost && len(c.ports) == 0
		}, ""},
		{"volumes", map[string]any{"image": "x", "volumes": []any{"/srv:/data:ro", "cache:/cache"}}, func(c *taskConfig) bool {
			return reflect.DeepEqual(c.volumes, []volume{{"/srv", "/data", true}, {"/data/a1/web/cache", "/cache", false}})
		}, ""},
		{"labels map", map[string]any{"image": "x", "labels": map[string]any{"team": "edge", "n": uint64(2)}}, func(c *taskConfig) bool {
			return reflect.DeepEqual(c.labels, map[string]string{"team": "edge", "n": "2"})
		}, ""},
		{"labels HCL block", map[string]any{"image": "x", "labels": []any{map[string]any{"team": "edge"}}}, func(c *taskConfig) bool {
			return c.labels["team"] == "edge"
		}, ""},
		{"force_pull string", map[string]any{"image": "x", "force_pull": "true"}, func(c *taskConfig) bool { return c.forcePull }, ""},

		{"missing image", map[string]any{}, nil, `"image" is required`},
		{"image list", map[string]any{"image": []any{"x"}}, nil, `"image" must be a string`},
		{"image with query", map[string]any{"image": "x?all=1"}, nil, `not an image reference`},
		{"image path escape", map[string]any{"image": "../containers/x"}, nil, `not an image reference`},
		{"unknown key", map[string]any{"image": "x", "portz": []any{"http"}}, nil, `unknown config key "portz"`},
		{"empty command", map[string]any{"image": "x", "command": ""}, nil, `"command" is empty`},
		{"args not a list", map[string]any{"image": "x", "args": "a b"}, nil, `"args" must be a list`},
		{"bad network", map[string]any{"image": "x", "network_mode": "macvlan"}, nil, `"network_mode" is "macvlan"`},
		{"ports without network", map[string]any{"image": "x", "network_mode": "none", "ports": []any{"http"}}, nil, `network_mode = "none"`},
		{"unknown port", map[string]any{"image": "x", "ports": []any{"db"}}, nil, `port "db" is not in the group's network block (known: admin, http)`},
		{"volume without colon", map[string]any{"image": "x", "volumes": []any{"/srv"}}, nil, `not host:container[:ro]`},
		{"volume bad mode", map[string]any{"image": "x", "volumes": []any{"/a:/b:rx"}}, nil, `mode "rx"`},
		{"volume relative container", map[string]any{"image": "x", "volumes": []any{"/a:b"}}, nil, `container path must be absolute`},
		{"volume escapes task dir", map[string]any{"image": "x", "volumes": []any{"../../etc:/etc"}}, nil, `stay inside the task dir`},
		{"reserved label", map[string]any{"image": "x", "labels": map[string]any{"tether.alloc_id": "z"}}, nil, `reserved prefix`},
		{"label not string", map[string]any{"image": "x", "labels": map[string]any{"a": []any{1}}}, nil, `label "a" must be a string`},
		{"labels not map", map[string]any{"image": "x", "labels": "a=b"}, nil, `"labels" must be a map`},
		{"relative work_dir", map[string]any{"image": "x", "work_dir": "app"}, nil, `"work_dir" must be an absolute path`},
		{"force_pull number", map[string]any{"image": "x", "force_pull": int64(2)}, nil, `"force_pull" must be true or false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseTask()
			cfg.Config = tc.config
			c, err := parseTaskConfig(cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrBadConfig) {
					t.Fatalf("err = %v, want ErrBadConfig containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("decoded %+v", c)
			}
		})
	}
}

func TestParseTaskConfigNil(t *testing.T) {
	if _, err := parseTaskConfig(nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildSpec(t *testing.T) {
	cfg := baseTask()
	cfg.MemoryMB = 128
	cfg.CPU = 1
	cfg.User = "nobody"
	cfg.Env = map[string]string{"A": "1"}
	cfg.Config = map[string]any{"image": "localhost/web:1", "ports": []any{"http"}, "volumes": []any{"/srv:/data:ro"}, "labels": map[string]any{"team": "edge"}}
	tc, err := parseTaskConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := buildSpec(cfg, tc)
	if s.Name != "tether-a1_web" || s.User != "nobody" || s.Env["A"] != "1" || s.NetNS.NSMode != "bridge" || s.LogConfig.Driver != "k8s-file" {
		t.Fatalf("spec = %+v", s)
	}
	wantLabels := map[string]string{labelAllocID: "a1", labelTask: "web", labelJobID: "j", "team": "edge"}
	if !reflect.DeepEqual(s.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", s.Labels, wantLabels)
	}
	wantMounts := []specMount{
		{"/alloc", "/data/a1/alloc", "bind", []string{"rbind", "rw"}},
		{"/local", "/data/a1/web/local", "bind", []string{"rbind", "rw"}},
		{"/secrets", "/data/a1/web/secrets", "bind", []string{"rbind", "rw"}},
		{"/data", "/srv", "bind", []string{"rbind", "ro"}},
	}
	if !reflect.DeepEqual(s.Mounts, wantMounts) {
		t.Errorf("mounts = %+v", s.Mounts)
	}
	if !reflect.DeepEqual(s.PortMappings, []specPort{{ContainerPort: 8080, HostPort: 20001, Protocol: "tcp,udp"}}) {
		t.Errorf("ports = %+v", s.PortMappings)
	}
	if *s.Resources.Memory.Limit != 128<<20 || *s.Resources.Memory.Swap != 128<<20 || *s.Resources.CPU.Shares != minCPUShares {
		t.Errorf("resources = %+v %+v", *s.Resources.Memory, *s.Resources.CPU)
	}
	// The body is what Podman reads: check the JSON names it expects.
	b, _ := json.Marshal(s)
	for _, key := range []string{`"resource_limits":{"memory":{"limit":134217728,"swap":134217728},"cpu":{"shares":2}}`, `"netns":{"nsmode":"bridge"}`, `"portmappings":[`, `"log_configuration":{"driver":"k8s-file"}`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("create body %s lacks %s", b, key)
		}
	}
	cfg.MemoryMB, cfg.CPU = 0, 0
	if s := buildSpec(cfg, tc); s.Resources != nil {
		t.Errorf("no resources asked, got %+v", s.Resources)
	}
}

func TestContainerName(t *testing.T) {
	for _, tc := range []struct {
		cfg  drivers.TaskConfig
		want string
	}{
		{drivers.TaskConfig{ID: "8c1f-22/web"}, "tether-8c1f-22_web"},
		{drivers.TaskConfig{AllocID: "a", TaskName: "t t"}, "tether-a_t_t"},
		{drivers.TaskConfig{ID: "a/ünï"}, "tether-a__n_"},
	} {
		if got := containerName(&tc.cfg); got != tc.want {
			t.Errorf("containerName(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	s := stateData{ID: strings.Repeat("ab", 32), Name: "tether-x", Stdout: "/o", Stderr: "/e", Cursor: "/c"}
	got, err := decodeState(s.encode())
	s.V = stateVersion
	if err != nil || got != s {
		t.Fatalf("decodeState = %+v, %v; want %+v", got, err, s)
	}
	for _, bad := range []string{``, `{`, `{"v":2,"id":"` + strings.Repeat("a", 64) + `"}`, `{"v":1,"id":"abc"}`, `{"v":1,"id":"` + strings.Repeat("g", 64) + `"}`} {
		if _, err := decodeState([]byte(bad)); !errors.Is(err, ErrBadState) {
			t.Errorf("decodeState(%q) = %v, want ErrBadState", bad, err)
		}
	}
}

func TestCursor(t *testing.T) {
	c := cursor{}
	if !c.since().IsZero() {
		t.Fatal("zero cursor must replay from the beginning")
	}
	c = c.advance(100).advance(100).advance(101).advance(101).advance(101)
	if c != (cursor{101, 3}) {
		t.Fatalf("cursor = %+v", c)
	}
	b := c.encode()
	if len(b) != cursorFileLen {
		t.Fatalf("encoded length %d", len(b))
	}
	got, err := decodeCursor(b)
	if err != nil || got != c {
		t.Fatalf("decodeCursor = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1", "a b", "1 2 3", "-1 2", "1 -2"} {
		if _, err := decodeCursor([]byte(bad)); err == nil {
			t.Errorf("decodeCursor(%q) accepted", bad)
		}
	}
}

// frame builds one multiplexed log frame.
func frame(stream byte, payload string) []byte {
	h := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func TestReadFrame(t *testing.T) {
	var in []byte
	in = append(in, frame(1, "2026-11-26T12:23:50Z out\n")...)
	in = append(in, frame(2, "")...)
	br := bufio.NewReader(bytes.NewReader(in))
	s, p, err := readFrame(br, nil)
	if err != nil || s != 1 || string(p) != "2026-11-26T12:23:50Z out\n" {
		t.Fatalf("frame 1 = %d %q %v", s, p, err)
	}
	s, p, err = readFrame(br, p)
	if err != nil || s != 2 || len(p) != 0 {
		t.Fatalf("frame 2 = %d %q %v", s, p, err)
	}
	if _, _, err = readFrame(br, p); err != io.EOF {
		t.Fatalf("end = %v, want io.EOF", err)
	}
	for name, bad := range map[string][]byte{
		"short header":  {1, 0, 0},
		"short payload": frame(1, "abc")[:9],
		"too big":       {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff},
	} {
		if _, _, err := readFrame(bufio.NewReader(bytes.NewReader(bad)), nil); err == nil || err == io.EOF {
			t.Errorf("%s: err = %v, want a stream error", name, err)
		}
	}
}

func TestSplitTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in      string
		sec     int64
		msg     string
		stamped bool
	}{
		{"2026-11-26T12:23:50Z hello\n", 1795695830, "hello\n", true},
		{"2026-11-26T13:23:50+01:00 x", 1795695830, "x", true},
		{"2026-11-26T12:23:50.5Z x", 1795695830, "x", true},
		{"no timestamp here", 0, "no timestamp here", false},
		{"", 0, "", false},
	} {
		ts, msg, ok := splitTimestamp([]byte(tc.in))
		if ok != tc.stamped || string(msg) != tc.msg || (ok && ts.Unix() != tc.sec) {
			t.Errorf("splitTimestamp(%q) = %v %q %v", tc.in, ts.Unix(), msg, ok)
		}
	}
}

// TestLogCopyResume replays a log stream after a cut and checks the cursor
// skips exactly what was copied, including lines in the same second.
func TestLogCopyResume(t *testing.T) {
	lines := []struct {
		stream byte
		text   string
	}{
		{1, "2026-11-26T12:00:00Z a\n"}, {2, "2026-11-26T12:00:00Z e1\n"}, {1, "2026-11-26T12:00:01Z b\n"},
		{1, "2026-11-26T12:00:01Z c\n"}, {1, "2026-11-26T12:00:01Z d\n"}, {2, "2026-11-26T12:00:02Z e2\n"},
	}
	stream := func(from int) []byte {
		var b []byte
		for _, l := range lines[from:] {
			b = append(b, frame(l.stream, l.text)...)
		}
		return b
	}
	dir := t.TempDir()
	out, errp, cur := filepath.Join(dir, "out"), filepath.Join(dir, "err"), filepath.Join(dir, "cursor")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	lc, err := openLogCopier(nil, "x", out, errp, cur, logfile.Policy{}, false, log)
	if err != nil {
		t.Fatal(err)
	}
	// First session: cut after "c" (4 lines).
	if err := lc.copy(bytes.NewReader(stream(0)[:len(stream(0))-len(stream(4))])); err != nil {
		t.Fatal(err)
	}
	lc.close()
	// The agent restarts: Podman replays from the cursor's second (12:00:01).
	lc, err = openLogCopier(nil, "x", out, errp, cur, logfile.Policy{}, true, log)
	if err != nil {
		t.Fatal(err)
	}
	if lc.cur != (cursor{time.Date(2026, 11, 26, 12, 0, 1, 0, time.UTC).Unix(), 2}) {
		t.Fatalf("resumed cursor = %+v", lc.cur)
	}
	if err := lc.copy(bytes.NewReader(stream(2))); err != nil {
		t.Fatal(err)
	}
	lc.close()
	if b, _ := os.ReadFile(out + ".0"); string(b) != "a\nb\nc\nd\n" {
		t.Errorf("stdout = %q", b)
	}
	if b, _ := os.ReadFile(errp + ".0"); string(b) != "e1\ne2\n" {
		t.Errorf("stderr = %q", b)
	}
}

func TestAPIErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing/json"):
			w.WriteHeader(404)
			w.Write([]byte(`{"cause":"no such container","message":"no container with name or ID \"missing\" found: no such container","response":404}`))
		case strings.HasSuffix(r.URL.Path, "/kill"):
			w.WriteHeader(500)
			w.Write([]byte(`{"cause":"container state improper","message":"can only kill running containers. x is in state exited: container state improper","response":500}`))
		default:
			w.WriteHeader(502)
			w.Write([]byte("bad gateway text"))
		}
	}))
	defer srv.Close()
	c := newClient("unused", time.Second)
	c.http = srv.Client()
	c.http.Transport = rewriteTransport{srv.URL}
	_, err := c.inspect(t.Context(), "missing")
	if !isNotFound(err) || !strings.Contains(err.Error(), `no container with name or ID "missing" found`) {
		t.Errorf("inspect = %v", err)
	}
	if err := c.kill(t.Context(), "x", "SIGTERM"); !isNotRunning(err) {
		t.Errorf("kill = %v, want not running", err)
	}
	if err := c.ping(t.Context()); !isStatus(err, 502) || !strings.Contains(err.Error(), "bad gateway text") {
		t.Errorf("ping = %v", err)
	}
}

// rewriteTransport sends the client's requests to an httptest server.
type rewriteTransport struct{ base string }

func (rt rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	r2 := r.Clone(r.Context())
	u2, _ := http.NewRequest(r.Method, rt.base+u.RequestURI(), nil)
	r2.URL = u2.URL
	r2.Host = ""
	return http.DefaultTransport.RoundTrip(r2)
}

// A log file that cannot be written (a full disk: /dev/full) fails the
// copy with errLogWrite and leaves the cursor where the file ends, so the
// lines are copied again once there is room; nothing is skipped.
func TestLogCopyFullDiskKeepsCursor(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	cursorPath := filepath.Join(t.TempDir(), "cursor")
	lc, err := openLogCopier(nil, "c1", "", "", cursorPath, logfile.Policy{}, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.close()
	lc.stdout = full
	in := append(frame(1, "2026-11-26T12:23:50Z one\n"), frame(1, "2026-11-26T12:23:51Z two\n")...)
	if err := lc.copy(bytes.NewReader(in)); !errors.Is(err, errLogWrite) {
		t.Fatalf("copy to /dev/full = %v, want errLogWrite", err)
	}
	if lc.cur != (cursor{}) {
		t.Fatalf("cursor moved to %+v past lines that were not written", lc.cur)
	}
	// Room again: the same stream is copied whole, and the cursor moves.
	var out bytes.Buffer
	lc.stdout = &out
	if err := lc.copy(bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo\n" {
		t.Fatalf("copied %q, want both lines", out.String())
	}
	if b, _ := os.ReadFile(cursorPath); !strings.HasPrefix(string(b), "1795695831 1") {
		t.Fatalf("cursor file %q, want it at the second line", b)
	}
}

// A container's output is rotated by the task's logs block as it is
// copied: files of at most max_file_size, the oldest past max_files gone.
func TestLogCopyRotates(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "logs", "web.stdout")
	lc, err := openLogCopier(nil, "x", out, "", "", logfile.Policy{MaxFiles: 2, MaxFileSize: 10}, false, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	for i := 0; i < 5; i++ {
		stream = append(stream, frame(1, fmt.Sprintf("2026-11-26T12:00:0%dZ line %d\n", i, i))...) // 7 bytes a line
	}
	if err := lc.copy(bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	lc.close()
	// 35 bytes: web.stdout.0 to .3, .2 and .3 kept.
	idxs, _ := logfile.Indexes(out)
	a, _ := os.ReadFile(out + ".2")
	b, _ := os.ReadFile(out + ".3")
	if len(idxs) != 2 || idxs[0] != 2 || string(a)+string(b) != "line 0\nline 1\nline 2\nline 3\nline 4\n"[20:] {
		t.Fatalf("files %v holding %q + %q; want .2 and .3 with the last 15 bytes", idxs, a, b)
	}
}
