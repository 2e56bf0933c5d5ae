package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
)

const renderHCL = `job "render" {
  type = "batch"
  parameterized {
    payload       = "optional"
    meta_required = ["x"]
  }
  group "g" {
    task "work" {
      driver = "exec"
      config {
        command = "/bin/cat"
      }
      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
`

func TestJobDispatch(t *testing.T) {
	c := newCluster(t)
	if code, out, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "render.hcl", renderHCL)); code != 0 {
		t.Fatalf("submit: exit %d: %s %s", code, out, errOut)
	}
	code, out, errOut := c.run(t, "job", "dispatch", "-detach", "-meta", "x=1", "render", writeFile(t, "input.json", `{"n":1}`))
	if code != 0 {
		t.Fatalf("dispatch: exit %d: %s %s", code, out, errOut)
	}
	var childID string
	for _, j := range c.b.Jobs("default") {
		if j.ParentID == "render" {
			childID = j.ID
			if string(j.Payload) != `{"n":1}` || j.Meta["x"] != "1" {
				t.Errorf("child payload %q meta %v", j.Payload, j.Meta)
			}
		}
	}
	if childID == "" || !strings.Contains(out, "Dispatched Job ID = "+childID+"\n") || !strings.Contains(out, "Evaluation ID     = ") {
		t.Fatalf("child %q, output:\n%s", childID, out)
	}
	// -json prints the API's answer.
	code, out, errOut = c.run(t, "job", "dispatch", "-json", "-meta", "x=2", "render")
	if code != 0 || !strings.Contains(out, `"dispatched_job_id":"render/dispatch-`) || !strings.Contains(out, `"eval_id"`) {
		t.Fatalf("-json: exit %d:\n%s%s", code, out, errOut)
	}
	// The parent's status lists it.
	code, out, errOut = c.run(t, "job", "status", "render")
	if code != 0 || !strings.Contains(out, "Type        = batch/parameterized\n") || !strings.Contains(out, "Parameterized Job\nPayload           = optional\nRequired Metadata = x\n") ||
		!strings.Contains(out, "Dispatched Jobs\nID") || !strings.Contains(out, childID+"  pending") {
		t.Fatalf("status: exit %d:\n%s%s", code, out, errOut)
	}
	// The child's own status works with its slash.
	if code, out, errOut := c.run(t, "job", "status", childID); code != 0 || !strings.Contains(out, "= "+childID+"\n") || !strings.Contains(out, "Parent ID   = render\n") {
		t.Fatalf("child status: exit %d:\n%s%s", code, out, errOut)
	}
}

func TestJobDispatchErrors(t *testing.T) {
	c := newCluster(t)
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "render.hcl", renderHCL)); code != 0 {
		t.Fatal(errOut)
	}
	big := writeFile(t, "big", strings.Repeat("a", jobspec.DispatchPayloadSizeLimit+1))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-meta", "y=1", "render"}, exitError, "meta keys the job does not accept: y (accepted: x)"},
		{[]string{"render"}, exitError, "lacks required meta keys: x"},
		{[]string{"-meta", "novalue", "render"}, exitUsage, `"novalue" is not KEY=VALUE`},
		{[]string{"-meta", "x=1", "render", big}, exitError, "larger than the payload limit of 16384 bytes"},
		{[]string{"-meta", "x=1", "render", "/nonexistent/input.json"}, exitError, "no such file"},
		{[]string{"-meta", "x=1", "nope"}, exitError, `No job(s) with prefix or id "nope" found`},
	} {
		code, out, errOut := c.run(t, append([]string{"job", "dispatch", "-detach"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d with %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

// A dispatch retried with its -idempotency-token does not dispatch again.
func TestJobDispatchIdempotencyToken(t *testing.T) {
	c := newCluster(t)
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "render.hcl", renderHCL)); code != 0 {
		t.Fatal(errOut)
	}
	args := []string{"job", "dispatch", "-detach", "-idempotency-token", "t-1", "-meta", "x=1", "render"}
	code, first, errOut := c.run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	code, again, errOut := c.run(t, args...)
	if code != 0 || !strings.Contains(again, "was already dispatched with this idempotency token") {
		t.Fatalf("retry: exit %d:\n%s%s", code, again, errOut)
	}
	id := strings.TrimSpace(strings.SplitN(first, "= ", 2)[1])
	id = strings.SplitN(id, "\n", 2)[0]
	if !strings.Contains(again, "Dispatched Job ID = "+id+"\n") {
		t.Fatalf("first:\n%s\nretry:\n%s", first, again)
	}
}

// "-" reads the payload from stdin.
func TestJobDispatchPayloadFromStdin(t *testing.T) {
	c := newCluster(t)
	if code, _, errOut := c.run(t, "job", "submit", "-detach", writeFile(t, "render.hcl", renderHCL)); code != 0 {
		t.Fatal(errOut)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString(`{"from": "stdin"}`)
	w.Close()
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
	if code, out, errOut := c.run(t, "job", "dispatch", "-detach", "-meta", "x=1", "render", "-"); code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, j := range c.b.Jobs("default") {
		if j.ParentID == "render" && string(j.Payload) == `{"from": "stdin"}` {
			return
		}
	}
	t.Fatal("no child with the payload read from stdin")
}
