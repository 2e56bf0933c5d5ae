package allocgc

import (
	"slices"
	"testing"
	"time"
)

func TestSelect(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	const mb = 1 << 20
	// a finished first, then b, c, d.
	dirs := []Dir{
		{ID: "c", Finished: ago(3 * time.Minute), Bytes: 10 * mb},
		{ID: "a", Finished: ago(10 * time.Minute), Bytes: 30 * mb},
		{ID: "d", Finished: ago(1 * time.Minute), Bytes: 5 * mb},
		{ID: "b", Finished: ago(5 * time.Minute), Bytes: 20 * mb},
	}
	def := Policy{MaxAllocs: 50, DiskThreshold: 80}
	// 100 MB filesystem.
	usage := func(usedMB uint64) Usage { return Usage{Used: usedMB * mb, Avail: (100 - usedMB) * mb} }
	tests := []struct {
		name   string
		policy Policy
		live   int
		dirs   []Dir
		usage  Usage
		want   []string // id/reason
	}{
		{"nothing to do", def, 3, dirs, usage(50), nil},
		{"empty", def, 100, nil, usage(99), nil},
		{"count: oldest first until live+dirs fit", Policy{MaxAllocs: 4}, 2, dirs, usage(10),
			[]string{"a/max_allocs", "b/max_allocs"}},
		{"count: running allocs alone over the limit remove every dir but never more", Policy{MaxAllocs: 2}, 5, dirs, usage(10),
			[]string{"a/max_allocs", "b/max_allocs", "c/max_allocs", "d/max_allocs"}},
		{"count: exactly at the limit", Policy{MaxAllocs: 4}, 0, dirs, usage(10), nil},
		{"disk: at the threshold is not over it", def, 0, dirs, usage(80), nil},
		{"disk: oldest until the sizes bring usage under", def, 0, dirs, usage(85), []string{"a/disk_usage"}},
		{"disk: 99 % over 60 needs a and b (69 %, then 49 %)", Policy{MaxAllocs: 50, DiskThreshold: 60}, 0, dirs, usage(99),
			[]string{"a/disk_usage", "b/disk_usage"}},
		{"disk: 95 % over 80 needs a alone (65 %)", def, 0, dirs, usage(95), []string{"a/disk_usage"}},
		{"disk: 99 % with unmeasured dirs removes all of them", def, 0, []Dir{{ID: "x", Finished: ago(time.Hour)}, {ID: "y", Finished: ago(time.Minute)}}, usage(99),
			[]string{"x/disk_usage", "y/disk_usage"}},
		{"disk: sizes count after the count reason freed some", Policy{MaxAllocs: 3, DiskThreshold: 60}, 0, dirs, usage(95),
			[]string{"a/max_allocs", "b/disk_usage"}},
		{"ties broken by id", Policy{MaxAllocs: 1}, 0,
			[]Dir{{ID: "z", Finished: ago(time.Minute)}, {ID: "y", Finished: ago(time.Minute)}}, usage(10), []string{"y/max_allocs"}},
		{"threshold 100 never removes for disk", Policy{MaxAllocs: 50, DiskThreshold: 100}, 0, dirs, usage(100), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.dirs)
			var got []string
			for _, r := range Select(tt.policy, tt.live, tt.dirs, tt.usage) {
				got = append(got, r.ID+"/"+r.Reason)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if !slices.Equal(before, tt.dirs) {
				t.Fatal("Select modified its input")
			}
		})
	}
}

func TestUsagePercent(t *testing.T) {
	for _, tt := range []struct {
		u    Usage
		want float64
	}{
		{Usage{}, 0},
		{Usage{Used: 1, Avail: 3}, 25},
		{Usage{Used: 8, Avail: 2}, 80},
	} {
		if got := tt.u.Percent(); got != tt.want {
			t.Errorf("%+v: %v, want %v", tt.u, got, tt.want)
		}
	}
	if got := after(Usage{Used: 10, Avail: 0}, 20); got != (Usage{Used: 0, Avail: 10}) {
		t.Errorf("after: %+v", got)
	}
}
