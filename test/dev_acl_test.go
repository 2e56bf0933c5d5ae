package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devJob is a job for the dev agent (datacenter dc1).
func devJob(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".hcl")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "exec sleep 3600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
`, name)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startDev runs `central dev` with extra flags and waits for its agent.
func startDev(t *testing.T, extra ...string) (*cluster, *proc) {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), agents: map[string]*proc{}}
	c.http = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.broker = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	args := append([]string{"dev", "-http", c.http, "-mqtt", strings.TrimPrefix(c.broker, "tcp://"),
		"-data-dir", filepath.Join(c.dir, "data"), "-agent", bins.agent}, extra...)
	p := start(t, "central dev", bins.central, args...)
	eventually(t, 60*time.Second, func() error {
		if !strings.Contains(p.out.String(), "==> Running.") {
			return fmt.Errorf("central dev is not running yet:\n%s", p.out.String())
		}
		return nil
	})
	return c, p
}

// `central dev -acl` locks the broker too: an anonymous MQTT client (which
// could publish on any node's topics) is refused, the local agent enrols
// with a join token of its own and runs a job submitted with the
// bootstrapped token; the join token is gone once the agent is ready.
func TestDevACLBrokerRefusesAnonymousAndAgentEnrols(t *testing.T) {
	c, p := startDev(t, "-acl")
	if _, err := mqttClient(t, c.broker, nil, nil); err == nil {
		t.Fatal("central dev -acl: the embedded broker let an anonymous client in")
	}
	if !strings.Contains(p.out.String(), "central acl bootstrap") {
		t.Errorf("central dev -acl does not say how to get a token:\n%s", p.out.String())
	}
	out, code := c.cli("acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	token := secretID(t, out)
	if out, code := c.cliToken(token, "job", "run", "-detach", devJob(t, "dev-acl")); code != 0 {
		t.Fatalf("job run exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		req, _ := http.NewRequest("GET", "http://"+c.http+"/v1/job/dev-acl/allocations", nil)
		req.Header.Set("X-Tether-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var as []alloc
		if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
			return fmt.Errorf("%s: %v", resp.Status, err)
		}
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		return nil
	})
	if out, _ := c.cliToken(token, "node", "join-token", "list"); strings.Contains(out, "central dev: local agent") {
		t.Errorf("the local agent's join token outlived its enrolment:\n%s", out)
	}
	if strings.Contains(p.out.String(), "not Authorized") {
		t.Errorf("the dev agent was refused by the broker:\n%s", p.out.String())
	}
}

// `central dev -mqtt-auth` (without ACLs): the local agent enrols and runs
// the jobs given with -job; anonymous clients are refused.
func TestDevMQTTAuthAgentRunsJob(t *testing.T) {
	c, _ := startDev(t, "-mqtt-auth", "-job", devJob(t, "dev-auth"))
	if _, err := mqttClient(t, c.broker, nil, nil); err == nil {
		t.Fatal("central dev -mqtt-auth: the embedded broker let an anonymous client in")
	}
	c.waitRunning("dev-auth", 1, 30*time.Second)
}

// -job with -acl cannot be honoured on a fresh state (no token can exist
// yet): refused before anything starts. -h lists the dev-only flags.
func TestDevACLJobRefusedAndHelp(t *testing.T) {
	out, code := runCentral(t, "dev", "-acl", "-job", devJob(t, "x"), "-http", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if code != 2 || !strings.Contains(out, "-job with -acl") {
		t.Errorf("dev -acl -job: exit %d\n%s", code, out)
	}
	out, code = runCentral(t, "dev", "-h")
	if code != 0 || !strings.Contains(out, "-job file") || !strings.Contains(out, "-agent binary") {
		t.Errorf("dev -h (exit %d) does not list -job and -agent:\n%s", code, out)
	}
}
