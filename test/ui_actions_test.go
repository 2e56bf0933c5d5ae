package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// evalAwait runs a JavaScript expression that yields a promise of a
// string and returns the string.
func (c *cdp) evalAwait(expr string) (string, error) {
	c.t.Helper()
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	raw := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", err
	}
	if res.Exception != nil {
		return "", fmt.Errorf("%s: %s", expr, raw)
	}
	s, ok := res.Result.Value.(string)
	if !ok {
		return "", fmt.Errorf("%s returned %s, not a string", expr, raw)
	}
	return s, nil
}

// waitEval polls a JavaScript expression until check accepts its value.
func (c *cdp) waitEval(expr string, timeout time.Duration, check func(string) error) string {
	c.t.Helper()
	var v string
	eventually(c.t, timeout, func() error {
		var err error
		if v, err = c.eval(expr); err != nil {
			return err
		}
		return check(v)
	})
	return v
}

// setUIToken stores secret through the token page's form, as an operator
// does.
func (c *cdp) setUIToken(base, secret string) {
	c.t.Helper()
	c.navigate(base + "/settings/tokens")
	c.waitPage("/ui/settings/tokens", 30*time.Second, func(text string) error {
		if !strings.Contains(text, "token is set") && !strings.Contains(text, "No token set.") {
			return fmt.Errorf("token page script has not run: %q", text)
		}
		return nil
	})
	enc, _ := json.Marshal(secret)
	if _, err := c.eval(`(function () {
		document.getElementById("token-secret").value = ` + string(enc) + `;
		document.getElementById("token-form").requestSubmit();
		return "submitted";
	})()`); err != nil {
		c.t.Fatalf("submit the token form: %v", err)
	}
	c.waitEval(`document.cookie`, 30*time.Second, func(v string) error {
		if !strings.Contains(v, "tether_token="+secret) {
			return fmt.Errorf("token cookie not set: %q", v)
		}
		return nil
	})
}

// act presses the button of the page's action kind (and Confirm when it
// asks) and waits for the outcome the page reports; it returns it.
func (c *cdp) act(kind string, confirm bool) string {
	c.t.Helper()
	sel := `form.action[data-kind="` + kind + `"]`
	// The button, once the page's script handles it.
	c.waitEval(`document.documentElement.getAttribute("data-actions") === "ready" && document.querySelector('`+sel+` button.do') ? "yes" : "no"`, 20*time.Second, func(v string) error {
		if v != "yes" {
			return fmt.Errorf("no %s button on %s yet, or the page's script has not run", kind, sel)
		}
		return nil
	})
	if _, err := c.eval(`(function () {
		var s = document.getElementById("action-status"); s.hidden = true; s.textContent = "";
		document.querySelector('` + sel + ` button.do').click();
		return "clicked";
	})()`); err != nil {
		c.t.Fatalf("click %s: %v", kind, err)
	}
	if confirm {
		q := c.waitEval(`(function () {
			var f = document.querySelector('`+sel+`');
			return f && f.classList.contains("confirming") && !f.querySelector(".confirm").hidden ? f.querySelector(".question").textContent : "";
		})()`, 30*time.Second, func(v string) error {
			if v == "" {
				return fmt.Errorf("%s asks for no confirmation", kind)
			}
			return nil
		})
		c.t.Logf("%s asks: %s", kind, q)
		if st, _ := c.eval(`document.getElementById("action-status").textContent`); st != "" {
			c.t.Fatalf("%s was sent before its confirmation: %q", kind, st)
		}
		if _, err := c.eval(`(function () { document.querySelector('` + sel + ` button.yes').click(); return "confirmed"; })()`); err != nil {
			c.t.Fatalf("confirm %s: %v", kind, err)
		}
	}
	return c.waitEval(`(function () { var s = document.getElementById("action-status"); return s.hidden ? "" : s.className + ": " + s.textContent; })()`,
		20*time.Second, func(v string) error {
			switch {
			case v == "":
				return fmt.Errorf("no outcome of %s yet", kind)
			case strings.Contains(v, "bad"):
				return fmt.Errorf("%s refused: %s", kind, v) // keeps polling; reported at the deadline
			}
			return nil
		})
}

// apiStatus is a GET of the API decoded into a map.
func apiGet(t *testing.T, c *cluster, path string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := c.get(path, &v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return v
}

// The fleet overview, the client page's health and the operator's
// actions, in Chromium, with ACLs on:
//   - the fleet overview counts the nodes as GET /v1/nodes does and charts
//     the node's CPU once its heartbeats arrived;
//   - the client page shows the agent's version and its charts;
//   - with a management token: Restart gives the task a new PID in the
//     same allocation; Stop makes the job dead and Start running again;
//     Drain drains the node and "make eligible" ends it (each asked to
//     confirm where it destroys);
//   - a read-only token sees no button, and the request a button would
//     make is refused to it from the page; the management token's
//     request from another origin is refused too.
func TestWebUIFleetAndActions(t *testing.T) {
	bin := requireTool(t, "chromium", "chromium-browser")
	c := startCentral(t, clusterOpts{acl: true})
	out, code := c.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	c.token = secretID(t, out)
	policy := filepath.Join(t.TempDir(), "look.hcl")
	if err := os.WriteFile(policy, []byte("namespace \"*\" {\n  policy = \"read\"\n}\nnode {\n  policy = \"read\"\n}\nagent {\n  policy = \"read\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("acl", "policy", "apply", "look", policy); code != 0 {
		t.Fatalf("acl policy apply exited %d:\n%s", code, out)
	}
	out, code = c.cli("acl", "token", "create", "-name", "looker", "-policy", "look")
	if code != 0 {
		t.Fatalf("acl token create exited %d:\n%s", code, out)
	}
	reader := secretID(t, out)

	c.startAgent("ui-ops")
	n := c.waitNode("ui-ops", "ready", 20*time.Second)
	work := t.TempDir()
	if out, code := c.cli("job", "submit", lifecycleJob(t, work)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	as := c.allocs("life")
	if len(as) != 1 {
		t.Fatalf("allocations: %+v", as)
	}
	allocID := as[0].ID
	pid1 := readPid(t, filepath.Join(work, "pid-"+allocID))

	b := startChromiumCDP(t, bin)
	b.call("Page.enable", nil)
	base := "http://" + c.http + "/ui"
	b.setUIToken(base, c.token)

	// Fleet overview: counts as the API's, and a chart with points.
	var nodes []node
	if err := c.get("/v1/nodes", &nodes); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, n := range nodes {
		want[n.Status]++
	}
	b.navigate(base + "/fleet")
	counts := b.waitEval(`document.querySelector("p.counts") ? JSON.stringify(Object.fromEntries([...document.querySelectorAll("p.counts .count")].map(e => [e.dataset.status, +e.querySelector("strong").textContent]))) : ""`,
		30*time.Second, func(v string) error {
			if v == "" {
				return fmt.Errorf("fleet page not loaded")
			}
			return nil
		})
	var got map[string]int
	if err := json.Unmarshal([]byte(counts), &got); err != nil {
		t.Fatal(err)
	}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("fleet overview shows %d %s, the API %d (page %v, API %v)", got[s], s, n, got, want)
		}
	}
	for s, n := range got {
		if n != want[s] {
			t.Errorf("fleet overview shows %d %s, the API %d", n, s, want[s])
		}
	}
	point := regexp.MustCompile(`^M[0-9.]+ [0-9.]+`)
	chart := func(page string) {
		t.Helper()
		// The page's live refresh redraws the charts (at most every 10 s).
		b.waitEval(`(function () { var p = document.querySelector("svg.spark.cpu path.line"); return p ? p.getAttribute("d") : ""; })()`,
			40*time.Second, func(d string) error {
				if !point.MatchString(d) {
					return fmt.Errorf("%s: no CPU chart with points yet (d=%q)", page, d)
				}
				return nil
			})
	}
	chart("fleet")
	if v, _ := b.eval(`document.querySelector('tr.node-charts a').getAttribute("href")`); v != "/ui/clients/"+n.ID {
		t.Errorf("fleet chart row links to %q, want the node's page", v)
	}

	// The rollouts page: none yet (a management token has operator read).
	b.navigate(base + "/rollouts")
	b.waitPage("/ui/rollouts", 30*time.Second, func(text string) error {
		if !strings.Contains(text, "No agent rollout yet.") {
			return fmt.Errorf("rollouts page: %q", text)
		}
		return nil
	})

	// Client page: version and charts.
	full := apiGet(t, c, "/v1/node/"+n.ID)
	version, _ := full["version"].(string)
	if version == "" {
		t.Fatalf("the API reports no agent version: %v", full)
	}
	b.navigate(base + "/clients/" + n.ID)
	b.waitPage("/ui/clients/"+n.ID, 30*time.Second, func(text string) error {
		if !strings.Contains(text, "Agent version\t"+version) && !strings.Contains(text, "Agent version\n"+version) {
			return fmt.Errorf("client page lacks agent version %s: %q", version, text)
		}
		if !strings.Contains(text, "Health") || !strings.Contains(text, "CPU") {
			return fmt.Errorf("client page lacks its health: %q", text)
		}
		return nil
	})
	chart("client")

	// Restart: a new PID in the same allocation.
	b.navigate(base + "/allocations/" + allocID)
	if got := b.act("alloc-restart", true); !strings.Contains(got, "Restart of allocation") {
		t.Fatalf("restart: %s", got)
	}
	eventually(t, 30*time.Second, func() error {
		if pid := readPid(t, filepath.Join(work, "pid-"+allocID)); pid == pid1 {
			return fmt.Errorf("still pid %d", pid1)
		}
		var a lifeAlloc
		if err := c.get("/v1/allocation/"+allocID, &a); err != nil {
			return err
		}
		if a.TaskStates["t"].Restarts != 1 || a.TaskStates["t"].State != "running" {
			return fmt.Errorf("task %+v", a.TaskStates["t"])
		}
		return nil
	})

	// Stop, then Start.
	jobStatus := func() (string, bool) {
		j := apiGet(t, c, "/v1/job/life")
		s, _ := j["status"].(string)
		stop, _ := j["stop"].(bool)
		return s, stop
	}
	b.navigate(base + "/jobs/life")
	if got := b.act("job-stop", true); !strings.Contains(got, "Job life stopped") {
		t.Fatalf("stop: %s", got)
	}
	eventually(t, 30*time.Second, func() error {
		if s, stop := jobStatus(); s != "dead" || !stop {
			return fmt.Errorf("after stop the API says status %s, stop %v", s, stop)
		}
		return nil
	})
	if got := b.act("job-start", false); !strings.Contains(got, "started again from version 0") {
		t.Fatalf("start: %s", got)
	}
	eventually(t, 30*time.Second, func() error {
		if s, stop := jobStatus(); s != "running" || stop {
			return fmt.Errorf("after start the API says status %s, stop %v", s, stop)
		}
		if as := c.allocs("life"); len(as) == 0 || as[0].ClientStatus != "running" && as[len(as)-1].ClientStatus != "running" {
			return fmt.Errorf("allocations %+v", as)
		}
		return nil
	})

	// Drain, then make eligible.
	b.navigate(base + "/clients/" + n.ID)
	if got := b.act("node-drain", true); !strings.Contains(got, "is draining") {
		t.Fatalf("drain: %s", got)
	}
	eventually(t, 20*time.Second, func() error {
		if nd := apiGet(t, c, "/v1/node/"+n.ID); nd["drain"] != true {
			return fmt.Errorf("node drain %v", nd["drain"])
		}
		return nil
	})
	if got := b.act("node-eligible", false); !strings.Contains(got, "eligible again") {
		t.Fatalf("make eligible: %s", got)
	}
	eventually(t, 20*time.Second, func() error {
		if nd := apiGet(t, c, "/v1/node/"+n.ID); nd["drain"] == true || nd["eligible"] != true {
			return fmt.Errorf("node drain %v eligible %v", nd["drain"], nd["eligible"])
		}
		return nil
	})

	// A read-only token: no buttons, and the request is refused.
	b.setUIToken(base, reader)
	for _, page := range []string{"/jobs/life", "/clients/" + n.ID, "/allocations/" + allocID} {
		b.navigate(base + page)
		b.waitPage("/ui"+strings.Split(page, "?")[0], 30*time.Second, func(text string) error {
			if strings.Contains(text, "Not authorized") || !strings.Contains(text, "Allocations") && !strings.Contains(text, "Tasks") {
				return fmt.Errorf("page not shown to the read-only token: %q", text)
			}
			return nil
		})
		if v, _ := b.eval(`String(document.querySelectorAll("form.action").length)`); v != "0" {
			t.Errorf("%s shows a read-only token %s action buttons", page, v)
		}
	}
	b.navigate(base + "/rollouts") // operator read, which the read-only token lacks
	b.waitPage("/ui/rollouts", 30*time.Second, func(text string) error {
		if !strings.Contains(text, "Not authorized") || !strings.Contains(text, "operator read") {
			return fmt.Errorf("rollouts page for a token without operator read: %q", text)
		}
		return nil
	})
	b.navigate(base + "/jobs/life")
	b.waitPage("/ui/jobs/life", 30*time.Second, func(text string) error {
		if !strings.Contains(text, "Job life") {
			return fmt.Errorf("job page not loaded: %q", text)
		}
		return nil
	})
	forged, err := b.evalAwait(`fetch("/v1/job/life?namespace=default", {method: "DELETE", headers: {"X-Tether-Token": ` + jsonString(reader) + `}})
		.then(r => r.text().then(t => r.status + " " + t))`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(forged, "403 ") || !strings.Contains(forged, "submit-job") {
		t.Errorf("the read-only token's stop from the page: %s, want 403 naming submit-job", forged)
	}
	req, _ := http.NewRequest("DELETE", "http://"+c.http+"/v1/job/life?namespace=default", nil)
	req.Header.Set("X-Tether-Token", c.token)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the management token's stop from another origin: HTTP %d, want 403", resp.StatusCode)
	}
	if s, stop := jobStatus(); stop || s == "dead" {
		t.Errorf("a refused stop stopped the job: status %s, stop %v", s, stop)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
