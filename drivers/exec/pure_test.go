//go:build linux

package exec

import (
	"errors"
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		in      string
		want    syscall.Signal
		wantErr bool
	}{
		{"", syscall.SIGTERM, false},
		{"SIGINT", syscall.SIGINT, false},
		{"hup", syscall.SIGHUP, false},
		{"SIGKILL", syscall.SIGKILL, false},
		{" sigusr1 ", syscall.SIGUSR1, false},
		{"9", syscall.SIGKILL, false},
		{"SIGFOO", 0, true},
		{"0", 0, true},
		{"99", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	tail := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25"
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{
			name: "plain",
			in:   "123 (sh) S 1 123 123 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 2371584 219 18446744073709551615" + tail,
			want: procStat{State: 'S', Ppid: 1, Pgid: 123, Utime: 7, Stime: 3, StartTime: 98765, RSSPages: 219},
		},
		{
			name: "name with spaces and parens",
			in:   "7 (a) b (c)) Z 2 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 55 0 0 0" + tail,
			want: procStat{State: 'Z', Ppid: 2, Pgid: 7, Utime: 1, Stime: 2, StartTime: 55},
		},
		{name: "truncated", in: "1 (x) S 1 2 3", wantErr: true},
		{name: "no paren", in: "garbage", wantErr: true},
		{name: "bad number", in: "1 (x) S 1 x 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 55 0 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCPUWeight(t *testing.T) {
	tests := []struct{ shares, want int }{
		{0, 1}, {2, 1}, {1024, 39}, {262144, 10000}, {1 << 30, 10000},
	}
	for _, tt := range tests {
		if got := cpuWeight(tt.shares); got != tt.want {
			t.Errorf("cpuWeight(%d) = %d, want %d", tt.shares, got, tt.want)
		}
	}
}

func TestTaskPath(t *testing.T) {
	cg := &cgroups{parent: "/sys/fs/cgroup/tether"}
	tests := []struct{ id, want string }{
		{"9f1c/web", "/sys/fs/cgroup/tether/9f1c_web"},
		{"../../etc", "/sys/fs/cgroup/tether/_._.._etc"},
		{".hidden", "/sys/fs/cgroup/tether/_hidden"},
	}
	for _, tt := range tests {
		got := cg.taskPath(tt.id)
		if got != tt.want {
			t.Errorf("taskPath(%q) = %q, want %q", tt.id, got, tt.want)
		}
		if !cg.owns(got) {
			t.Errorf("owns(%q) = false", got)
		}
	}
	for _, p := range []string{"", "/sys/fs/cgroup", "/sys/fs/cgroup/tether", "/sys/fs/cgroup/tether/a/../../x", "/sys/fs/cgroup/other/a"} {
		if cg.owns(p) {
			t.Errorf("owns(%q) = true, want false", p)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	sd := stateData{Pid: 42, StartTime: 777, Pgid: 42, Cgroup: "/sys/fs/cgroup/tether/x"}
	got, err := decodeState(sd.encode())
	sd.V = stateVersion
	if err != nil || got != sd {
		t.Fatalf("round trip = %+v, %v; want %+v", got, err, sd)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"v":1,"pid":42,"start_time":777,"pgid":42,"cgroup":"/sys/fs/cgroup/tether/x"}`))
	f.Add([]byte(`{"v":1,"pid":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			return
		}
		if sd.Pid <= 1 || sd.Pgid <= 1 {
			t.Fatalf("accepted pid %d pgid %d", sd.Pid, sd.Pgid)
		}
	})
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("123 (sh) S 1 123 123 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 98765 2371584 219 1"))
	f.Add([]byte("7 (a) b (c)) Z 2 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 55 0 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseProcStat(b) })
}
