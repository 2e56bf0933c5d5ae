package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/jobspec"
)

func periodicBatch(id, cron string) *jobspec.Job {
	j := batchJob(id)
	j.Periodic = &jobspec.Periodic{Crons: []string{cron}, Enabled: true}
	return j
}

// childTicks returns the launch times (unix seconds) of a periodic job's
// children, sorted, and checks each was registered once: one version,
// one evaluation.
func childTicks(t *testing.T, s *Server, parent string) []int64 {
	t.Helper()
	var ticks []int64
	for _, c := range s.store.ChildJobs("default", parent) {
		sec, err := strconv.ParseInt(strings.TrimPrefix(c.ID, parent+jobspec.PeriodicLaunchSuffix), 10, 64)
		if err != nil || c.ParentID != parent || c.Periodic != nil {
			t.Fatalf("child %q of %q: parent %q, periodic %v", c.ID, parent, c.ParentID, c.Periodic)
		}
		if evs := s.store.EvalsByJob("default", c.ID); c.Version != 0 || len(evs) != 1 {
			t.Fatalf("child %s launched more than once: version %d, %d evaluations", c.ID, c.Version, len(evs))
		}
		ticks = append(ticks, sec)
	}
	slices.Sort(ticks)
	return ticks
}

func waitChildren(t *testing.T, s *Server, parent string, n int, timeout time.Duration) []int64 {
	t.Helper()
	var ticks []int64
	eventually(t, timeout, func() error {
		ticks = childTicks(t, s, parent)
		if len(ticks) < n {
			return fmt.Errorf("%d children of %s, want %d", len(ticks), parent, n)
		}
		return nil
	})
	return ticks
}

// A periodic job runs nothing at submit; each tick of its cron launches a
// child (placed like any batch job); stopping it ends the launches and
// leaves the children alone.
func TestPeriodicLaunchesEachTickNotAtSubmit(t *testing.T) {
	s := testServer(t, time.Minute)
	readyNode(t, s, "n1")
	ctx := context.Background()

	submitted := time.Now()
	evalID, _, err := s.SubmitJob(ctx, periodicBatch("tick", "*/2 * * * * * *"))
	if err != nil || evalID != "" {
		t.Fatalf("SubmitJob = %q, %v; want no evaluation", evalID, err)
	}
	ticks := waitChildren(t, s, "tick", 2, 30*time.Second)
	for _, sec := range ticks {
		if sec%2 != 0 || sec < submitted.Unix() {
			t.Fatalf("child at %d: not a tick of */2 after the submit at %d", sec, submitted.Unix())
		}
	}
	eventually(t, 10*time.Second, func() error {
		if n := len(s.store.AllocsByJob("default", fmt.Sprintf("tick/periodic-%d", ticks[0]))); n != 1 {
			return fmt.Errorf("first child has %d allocations", n)
		}
		return nil
	})
	if n := len(s.store.AllocsByJob("default", "tick")); n != 0 {
		t.Fatalf("the periodic job itself has %d allocations", n)
	}
	if st := s.store.JobByID("default", "tick").Status; st != jobspec.JobStatusRunning {
		t.Fatalf("periodic job status %q, want running", st)
	}

	if _, _, err := s.StopJob(ctx, "default", "tick", false); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now().Unix()
	before := len(childTicks(t, s, "tick"))
	// Another job on the same cron is the clock: once it launched twice
	// after the stop, "tick" would have too.
	if _, _, err := s.SubmitJob(ctx, periodicBatch("tock", "*/2 * * * * * *")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		n := 0
		for _, sec := range childTicks(t, s, "tock") {
			if sec > stopped {
				n++
			}
		}
		if n < 2 {
			return fmt.Errorf("%d launches of tock after the stop", n)
		}
		return nil
	})
	after := childTicks(t, s, "tick")
	for _, sec := range after {
		if sec > stopped {
			t.Fatalf("launched at %d after the stop at %d", sec, stopped)
		}
	}
	if len(after) != before {
		t.Fatalf("children %d before the stop's effect, %d after: stopping removes none", before, len(after))
	}
}

// Launches missed while no server led are not replayed: the next leader
// launches once, the latest missed tick, and follows the cron from then.
func TestPeriodicRestartLaunchesOnlyTheLatestMissedTick(t *testing.T) {
	dir := t.TempDir()
	s := gcServer(t, dir, GCConfig{})
	if _, _, err := s.SubmitJob(context.Background(), periodicBatch("tick", "*/2 * * * * * *")); err != nil {
		t.Fatal(err)
	}
	waitChildren(t, s, "tick", 1, 30*time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	last := childTicks(t, s, "tick")
	lastBefore := last[len(last)-1]
	// Stay down over several ticks.
	eventually(t, 30*time.Second, func() error {
		if d := time.Now().Unix() - lastBefore; d < 7 {
			return fmt.Errorf("down for %ds", d)
		}
		return nil
	})
	restarted := time.Now().Unix()

	s2 := gcServer(t, dir, GCConfig{})
	eventually(t, 20*time.Second, func() error {
		l := s2.currentLeader()
		if l == nil || l.periodic.caughtUp.Load() != 1 {
			return fmt.Errorf("no catch-up launch yet")
		}
		return nil
	})
	var missed []int64
	for _, sec := range childTicks(t, s2, "tick") {
		if sec > lastBefore && sec <= restarted {
			missed = append(missed, sec)
		}
	}
	// Ticks lastBefore+2 ... ≤ restarted were missed: at most the latest
	// of them is launched (none if the catch-up came after a new tick).
	if len(missed) > 1 {
		t.Fatalf("ticks %v launched after the restart: the missed launches were replayed", missed)
	}
	if len(missed) == 1 && missed[0] < restarted-2 {
		t.Fatalf("caught up tick %d, not the latest missed (restarted at %d)", missed[0], restarted)
	}
	n := len(childTicks(t, s2, "tick"))
	waitChildren(t, s2, "tick", n+1, 30*time.Second) // and it goes on
}

// A leader change never launches a tick twice: the new leader catches up
// from the launch the old one recorded, and a launch asked again (a
// deposed leader's, a catch-up racing a timer) changes nothing.
func TestPeriodicFailoverNeverLaunchesATickTwice(t *testing.T) {
	servers := testCluster(t, 3)
	old := leaderOf(t, servers)
	if _, _, err := old.SubmitJob(context.Background(), periodicBatch("tick", "* * * * * * *")); err != nil {
		t.Fatal(err)
	}
	before := waitChildren(t, old, "tick", 2, 30*time.Second)
	old.Close()

	var rest []*Server
	for _, s := range servers {
		if s != old {
			rest = append(rest, s)
		}
	}
	now := leaderOf(t, rest)
	after := waitChildren(t, now, "tick", len(before)+3, 30*time.Second)

	// Ask the new leader to launch ticks the old one launched. On a loaded
	// machine leadership may have moved again since: take whichever server
	// holds the leader's duties now.
	var l *leader
	eventually(t, 30*time.Second, func() error {
		for _, s := range rest {
			if l = s.currentLeader(); l != nil {
				now = s
				return nil
			}
		}
		return fmt.Errorf("no server holds the leader's duties")
	})
	parent := now.store.JobByID("default", "tick")
	for _, sec := range before {
		if _, evalID, err := l.launch(parent, time.Unix(sec, 0), false); err != nil || evalID != "" {
			t.Fatalf("launch of tick %d again = %q, %v; want nothing launched", sec, evalID, err)
		}
	}
	// A force asked of a follower is forwarded to the leader.
	follower := rest[0]
	if follower == now {
		follower = rest[1]
	}
	if _, _, err := now.SubmitJob(context.Background(), periodicBatch("rare", "0 3 1 1 *")); err != nil {
		t.Fatal(err)
	}
	code, body := aclReq(t, follower, "POST", "/v1/job/rare/periodic/force", "")
	if code != 200 || !strings.Contains(body, `"job_id":"rare/periodic-`) {
		t.Fatalf("force through a follower: %d %s", code, body)
	}
	// "tick" launches every second: a force in a second already launched
	// is refused (the child's ID would be the same), and says so; one that
	// comes first takes the second's launch.
	if code, body := aclReq(t, follower, "POST", "/v1/job/tick/periodic/force", ""); code != 200 && (code != http.StatusConflict || !strings.Contains(body, "force it again")) {
		t.Fatalf("force in a launched second: %d %s, want 409 saying to force again", code, body)
	}
	final := childTicks(t, now, "tick") // checks each child has one evaluation
	for i := 1; i < len(final); i++ {
		if final[i] == final[i-1] {
			t.Fatalf("tick %d launched twice", final[i])
		}
	}
	if len(final) < len(after) {
		t.Fatalf("children went from %d to %d", len(after), len(final))
	}
}

// periodic force launches one child now, even with prohibit_overlap and a
// child running; a disabled or non-periodic job is refused.
func TestForcePeriodic(t *testing.T) {
	s := testServer(t, time.Minute)
	ctx := context.Background()
	j := periodicBatch("nightly", "0 3 * * *")
	j.Periodic.ProhibitOverlap = true
	if _, _, err := s.SubmitJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	child, evalID, err := s.ForcePeriodic(ctx, "default", "nightly")
	if err != nil || evalID == "" || !strings.HasPrefix(child, "nightly/periodic-") {
		t.Fatalf("ForcePeriodic = %q %q %v", child, evalID, err)
	}
	if e := s.store.EvalByID(evalID); e == nil || e.JobID != child || e.TriggeredBy != triggerPeriodicJob {
		t.Fatalf("force eval %+v", e)
	}
	// Again (in a later second): prohibit_overlap does not hold a force back.
	eventually(t, 10*time.Second, func() error {
		_, _, err := s.ForcePeriodic(ctx, "default", "nightly")
		return err
	})
	if n := len(childTicks(t, s, "nightly")); n != 2 {
		t.Fatalf("%d children after two forces", n)
	}

	off := periodicBatch("off", "0 3 * * *")
	off.Periodic.Enabled = false
	if _, _, err := s.SubmitJob(ctx, off); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SubmitJob(ctx, batchJob("plain")); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"off": "enabled = false", "plain": "not periodic", "nope": "not found"} {
		if _, _, err := s.ForcePeriodic(ctx, "default", id); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("force %s: %v, want an error saying %q", id, err, want)
		}
	}
	if n := len(s.store.ChildJobs("default", "off")); n != 0 {
		t.Fatalf("a disabled job launched %d children", n)
	}
}

// POST /v1/job/<id>/periodic/force needs submit-job in the job's
// namespace, as submitting the job does; GET /v1/job/<id> shows the next
// launch.
func TestPeriodicForceAPIAndACL(t *testing.T) {
	s := aclTestServer(t)
	_, body := aclReq(t, s, "POST", "/v1/acl/bootstrap", "")
	var mgmt struct {
		SecretID string `json:"secret_id"`
	}
	json.Unmarshal([]byte(body), &mgmt)
	token := func(name, rules string) string {
		t.Helper()
		if code, body := aclReqBody(t, s, "PUT", "/v1/acl/policy/"+name, mgmt.SecretID, api.PolicyRequest{Rules: rules}); code != 200 {
			t.Fatalf("policy %s: %d %s", name, code, body)
		}
		code, body := aclReqBody(t, s, "POST", "/v1/acl/token", mgmt.SecretID, api.TokenRequest{Name: name, Policies: []string{name}})
		var tok struct {
			SecretID string `json:"secret_id"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &tok) != nil {
			t.Fatalf("token %s: %d %s", name, code, body)
		}
		return tok.SecretID
	}
	reader := token("reader", `namespace "default" { policy = "read" }`)
	writer := token("writer", `namespace "default" { capabilities = ["submit-job", "read-job"] }`)
	if _, _, err := s.SubmitJob(context.Background(), periodicBatch("nightly", "0 3 * * *")); err != nil {
		t.Fatal(err)
	}
	for _, who := range []struct{ name, token string }{{"anonymous", ""}, {"read-only", reader}} {
		if code, body := aclReq(t, s, "POST", "/v1/job/nightly/periodic/force", who.token); code != http.StatusForbidden || !strings.Contains(body, "submit-job") {
			t.Errorf("force as %s: %d %s, want 403 naming submit-job", who.name, code, body)
		}
	}
	if n := len(s.store.ChildJobs("default", "nightly")); n != 0 {
		t.Fatalf("refused forces launched %d children", n)
	}
	code, body := aclReq(t, s, "POST", "/v1/job/nightly/periodic/force", writer)
	var resp api.PeriodicForceResponse
	if code != 200 || json.Unmarshal([]byte(body), &resp) != nil || resp.EvalID == "" || !strings.HasPrefix(resp.JobID, "nightly/periodic-") {
		t.Fatalf("force with submit-job: %d %s", code, body)
	}
	if s.store.JobByID("default", resp.JobID) == nil {
		t.Fatalf("child %s not registered", resp.JobID)
	}
	// The child reads at its escaped ID, like any job.
	if code, body := aclReq(t, s, "GET", "/v1/job/"+url.PathEscape(resp.JobID), reader); code != 200 || !strings.Contains(body, `"parent_id":"nightly"`) {
		t.Fatalf("GET child: %d %s", code, body)
	}

	code, body = aclReq(t, s, "GET", "/v1/job/nightly", reader)
	var job struct {
		NextPeriodicLaunch int64 `json:"next_periodic_launch"`
		Status             string
	}
	if code != 200 || json.Unmarshal([]byte(body), &job) != nil {
		t.Fatalf("GET job: %d %s", code, body)
	}
	next := time.Unix(0, job.NextPeriodicLaunch).UTC()
	if next.Hour() != 3 || next.Minute() != 0 || !next.After(time.Now()) || next.After(time.Now().Add(24*time.Hour)) {
		t.Fatalf("next_periodic_launch %v, want the next 03:00 UTC", next)
	}
	if code, body := aclReq(t, s, "POST", "/v1/job/nope/periodic/force", writer); code != http.StatusNotFound {
		t.Errorf("force of an unknown job: %d %s", code, body)
	}
}
