package jobspec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func periodicJob(t *testing.T, block string) *Job {
	t.Helper()
	src := `job "cron" {
  type = "batch"
` + block + `
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
`
	j, err := Parse("cron.hcl", []byte(src), nil)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return j
}

func TestPeriodicDecodeDefaultsAndForms(t *testing.T) {
	for _, tt := range []struct {
		name, block string
		want        Periodic
	}{
		{"cron", `periodic { cron = "@daily" }`, Periodic{Crons: []string{"@daily"}, Enabled: true}},
		{"crons", `periodic {
    crons            = ["*/5 * * * *", "0 12 * * MON"]
    prohibit_overlap = true
    time_zone        = "Europe/Berlin"
    enabled          = false
  }`, Periodic{Crons: []string{"*/5 * * * *", "0 12 * * MON"}, ProhibitOverlap: true, TimeZone: "Europe/Berlin"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j := periodicJob(t, tt.block)
			p := j.Periodic
			if p == nil {
				t.Fatal("no periodic block")
			}
			if strings.Join(p.Crons, "|") != strings.Join(tt.want.Crons, "|") || p.ProhibitOverlap != tt.want.ProhibitOverlap ||
				p.TimeZone != tt.want.TimeZone || p.Enabled != tt.want.Enabled {
				t.Fatalf("got %+v, want %+v", *p, tt.want)
			}
			if !j.IsParent() {
				t.Fatal("a periodic job is a parent")
			}
		})
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone data: %v", err)
	}
	return loc
}

// next lists n launches after from (a wall time in p's zone).
func nextN(t *testing.T, p *Periodic, from time.Time, n int) []string {
	t.Helper()
	var out []string
	for range n {
		nx, err := p.Next(from)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nx.UTC().Format(time.RFC3339))
		from = nx
	}
	return out
}

func TestPeriodicNextTimeZonesAndDST(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	for _, tt := range []struct {
		name string
		p    Periodic
		from time.Time
		want []string
	}{
		{"utc default", Periodic{Crons: []string{"0 9 * * *"}},
			time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC),
			[]string{"2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"}},
		{"zone shifts the wall time", Periodic{Crons: []string{"0 9 * * *"}, TimeZone: "Asia/Tokyo"},
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			[]string{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}},
		// Spring forward (2026-03-08 02:00 EST → 03:00 EDT): 02:30 does
		// not exist that day, so that day's launch is skipped (Nomad's).
		{"spring forward skips the missing hour", Periodic{Crons: []string{"30 2 * * *"}, TimeZone: "America/New_York"},
			time.Date(2026, 3, 7, 0, 0, 0, 0, ny),
			[]string{"2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"}},
		// Fall back (2026-11-01 02:00 EDT → 01:00 EST): 01:30 happens
		// twice, and so does the launch (Nomad's).
		{"fall back runs the repeated hour twice", Periodic{Crons: []string{"30 1 * * *"}, TimeZone: "America/New_York"},
			time.Date(2026, 10, 31, 12, 0, 0, 0, ny),
			[]string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"}},
		// An hourly job keeps launching every real hour across the change.
		{"hourly across spring forward", Periodic{Crons: []string{"0 * * * *"}, TimeZone: "America/New_York"},
			time.Date(2026, 3, 8, 0, 30, 0, 0, ny),
			[]string{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
		{"seconds field", Periodic{Crons: []string{"*/5 * * * * * *"}},
			time.Date(2026, 1, 1, 0, 0, 1, 500, time.UTC),
			[]string{"2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"}},
		{"earliest of several crons", Periodic{Crons: []string{"0 12 * * *", "0 6 * * *"}},
			time.Date(2026, 1, 1, 7, 0, 0, 0, time.UTC),
			[]string{"2026-01-01T12:00:00Z", "2026-01-02T06:00:00Z", "2026-01-02T12:00:00Z"}},
		{"predefined", Periodic{Crons: []string{"@weekly"}},
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), // a Thursday
			[]string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextN(t, &tt.p, tt.from, len(tt.want)); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("launches %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPeriodicNeverAndErrors(t *testing.T) {
	p := Periodic{Crons: []string{"0 0 30 2 *"}} // 30 February
	n, err := p.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || !n.IsZero() {
		t.Fatalf("Next of a date that never comes = %v, %v; want zero, nil", n, err)
	}
	for _, bad := range []Periodic{{Crons: []string{"nope"}}, {Crons: []string{"* * * * *"}, TimeZone: "Nowhere/City"}, {Crons: []string{"* * * * *"}, TimeZone: "Local"}} {
		if _, err := bad.Next(time.Now()); err == nil {
			t.Errorf("Next(%+v) without error", bad)
		}
	}
}

// Latest is the last launch in (after, now]: it agrees with walking Next
// from after, for any schedule and window.
func TestPeriodicLatestMatchesWalk(t *testing.T) {
	crons := []string{"* * * * *", "*/29 * * * * * *", "0 */3 * * *", "15 2 * * *", "30 1 * * *", "0 0 1 * *", "*/13 5-6 * * *"}
	zones := []string{"", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata"}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	rapid.Check(t, func(t *rapid.T) {
		p := Periodic{
			Crons:    []string{rapid.SampledFrom(crons).Draw(t, "cron")},
			TimeZone: rapid.SampledFrom(zones).Draw(t, "zone"),
		}
		if rapid.Bool().Draw(t, "two") {
			p.Crons = append(p.Crons, rapid.SampledFrom(crons).Draw(t, "cron2"))
		}
		after := time.Unix(base+rapid.Int64Range(0, 300*86400).Draw(t, "after"), 0)
		now := after.Add(time.Duration(rapid.Int64Range(0, 2*86400).Draw(t, "span")) * time.Second)
		got, err := p.Latest(after, now)
		if err != nil {
			t.Fatal(err)
		}
		var want time.Time
		s, err := p.schedule()
		if err != nil {
			t.Fatal(err)
		}
		for cur := after; ; {
			n, err := s.next(cur)
			if err != nil {
				t.Fatal(err)
			}
			if n.IsZero() || n.After(now) {
				break
			}
			want, cur = n, n
		}
		if !got.Equal(want) {
			t.Fatalf("Latest(%v, %v) = %v, walking Next gives %v", after, now, got, want)
		}
		if !got.IsZero() && (!got.After(after) || got.After(now)) {
			t.Fatalf("Latest %v outside (%v, %v]", got, after, now)
		}
	})
}

// Next is strictly after its argument and never skips a launch: no launch
// lies between t and Next(t).
func TestPeriodicNextIsStrictAndMonotonic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := Periodic{Crons: []string{rapid.SampledFrom([]string{"*/10 * * * *", "0 3 * * *", "*/2 * * * * * *"}).Draw(t, "cron")},
			TimeZone: rapid.SampledFrom([]string{"", "America/New_York", "Europe/Berlin"}).Draw(t, "zone")}
		t0 := time.Unix(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()+rapid.Int64Range(0, 365*86400).Draw(t, "t"), 0)
		n1, err := p.Next(t0)
		if err != nil || !n1.After(t0) {
			t.Fatalf("Next(%v) = %v, %v", t0, n1, err)
		}
		n2, _ := p.Next(n1)
		if !n2.After(n1) {
			t.Fatalf("Next(%v) = %v, not after", n1, n2)
		}
		mid := n1.Add(n2.Sub(n1) / 2)
		if n, _ := p.Next(mid); !n.Equal(n2) {
			t.Fatalf("a launch between %v and %v: %v", n1, n2, n)
		}
	})
}

func TestPeriodicChild(t *testing.T) {
	j := periodicJob(t, `periodic { cron = "@daily" }`)
	j.Version, j.Status, j.Stop = 3, JobStatusRunning, false
	at := time.Unix(1767225600, 0)
	c := j.PeriodicChild(at)
	if c.ID != "cron/periodic-1767225600" || c.Name != c.ID || c.ParentID != "cron" || c.Periodic != nil || c.Version != 0 || c.Status != "" {
		t.Fatalf("child %+v", c)
	}
	if c.IsParent() || !j.IsParent() {
		t.Fatal("the child must be schedulable, the parent not")
	}
	if j.Periodic == nil || j.ID != "cron" {
		t.Fatal("the parent was modified")
	}
}

func BenchmarkPeriodicNext(b *testing.B) {
	p := Periodic{Crons: []string{"*/15 * * * *", "0 3 * * MON"}, TimeZone: "Europe/Berlin"}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := p.Next(t0); err != nil {
			b.Fatal(err)
		}
	}
}

// The catch-up after a day without a leader, for a cron that fires every
// second: the worst case of Latest's look-back.
func BenchmarkPeriodicLatestDayOfSeconds(b *testing.B) {
	p := Periodic{Crons: []string{"* * * * * * *"}}
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := p.Latest(now.Add(-24*time.Hour), now); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzPeriodicCron: no cron expression or time zone a job file can hold
// panics central, in validation or in computing launches.
func FuzzPeriodicCron(f *testing.F) {
	for _, seed := range []string{"* * * * *", "*/5 * * * * * *", "@daily", "0 0 30 2 *", "L W # ? * *", "59-0/0 * * * *", "*/0 * * * *", "0 0 1 1 * 2099", "1-2-3 * * * *", "", "Europe/Berlin"} {
		f.Add(seed, "UTC")
	}
	f.Fuzz(func(t *testing.T, cron, zone string) {
		p := &Periodic{Crons: []string{cron}, TimeZone: zone, Enabled: true}
		_ = checkCron(cron)
		now := time.Date(2026, 3, 8, 6, 59, 30, 0, time.UTC)
		if _, err := p.Next(now); err != nil {
			return
		}
		_, _ = p.Latest(now.Add(-time.Hour), now)
	})
}

// A periodic block in a job sent as JSON is enabled unless it says
// otherwise (Nomad's API default), and its unknown fields are refused.
func TestPeriodicJSONEnabledByDefault(t *testing.T) {
	var j Job
	if err := json.Unmarshal([]byte(`{"periodic": {"crons": ["*/5 * * * *"]}}`), &j); err != nil {
		t.Fatal(err)
	}
	if j.Periodic == nil || !j.Periodic.Enabled {
		t.Fatalf("periodic = %+v, want enabled", j.Periodic)
	}
	if err := json.Unmarshal([]byte(`{"periodic": {"crons": ["*/5 * * * *"], "enabled": false}}`), &j); err != nil {
		t.Fatal(err)
	}
	if j.Periodic.Enabled {
		t.Fatal(`"enabled": false was read as enabled`)
	}
	if err := json.Unmarshal([]byte(`{"periodic": {"crons": ["*/5 * * * *"], "spec": "x"}}`), &j); err == nil {
		t.Fatal("an unknown periodic field was accepted")
	}
}
