package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// buildWasm compiles an example guest from examples/wasm with clang and
// wasi-libc (required under CI=true).
func buildWasm(t testing.TB, name string) string {
	t.Helper()
	clang := requireTool(t, "clang")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(clang, "--target=wasm32-wasi", "-O2", "-o", out, filepath.Join(root, "examples", "wasm", name+".c"))
	msg, err := cmd.CombinedOutput()
	testhost.Require(t, err == nil, fmt.Sprintf("building the wasm guest %s (%v)\n%s", name, err, msg), "install clang, lld, wasi-libc and libclang-rt-14-dev-wasm32; .ci/run does")
	return out
}

type allocPorts struct {
	Ports []struct {
		Label string `json:"label"`
		Value int    `json:"value"`
	} `json:"ports"`
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A wasm web service submitted with the CLI serves HTTP on its group port,
// is restarted (it runs inside the agent) when the agent restarts, and
// stops with its job.
func TestWasmServiceEndToEnd(t *testing.T) {
	module := buildWasm(t, "web")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)

	root, _ := repoRoot()
	out, code := c.cli("job", "submit", "-var", "module="+module, filepath.Join(root, "examples", "wasm-web.hcl"))
	if code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var url string
	eventually(t, 20*time.Second, func() error {
		as := c.allocs("wasm-web")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		var a allocPorts
		if err := c.get("/v1/allocation/"+as[0].ID, &a); err != nil {
			return err
		}
		if len(a.Ports) != 1 || a.Ports[0].Value == 0 {
			return fmt.Errorf("no http port: %+v", a)
		}
		url = fmt.Sprintf("http://127.0.0.1:%d/shop", a.Ports[0].Value)
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, "hello from wasm: /shop") {
			return fmt.Errorf("body %q", body)
		}
		return nil
	})

	// The guest lives inside the agent: an agent restart restarts it.
	c.agents["edge-1"].stop(syscall.SIGTERM)
	c.startAgent("edge-1")
	eventually(t, 20*time.Second, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, "hello from wasm") {
			return fmt.Errorf("body %q", body)
		}
		as := c.allocs("wasm-web")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations after agent restart: %+v", as)
		}
		return nil
	})

	if out, code := c.cli("job", "stop", "wasm-web"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	eventually(t, 20*time.Second, func() error {
		if _, err := httpGet(url); err == nil {
			return fmt.Errorf("guest still serves after job stop")
		}
		return nil
	})
}

// A failing wasm guest is restarted by the group's restart policy, then
// the allocation fails.
func TestWasmRestartPolicy(t *testing.T) {
	module := buildWasm(t, "exit")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	job := filepath.Join(t.TempDir(), "exit.hcl")
	os.WriteFile(job, []byte(fmt.Sprintf(`job "exit" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 2
      interval = "1m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "x" {
      driver = "wasm"
      config {
        module = %q
        args   = ["3"]
      }
    }
  }
}
`, module)), 0o644)
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		as := c.allocs("exit")
		if len(as) == 0 {
			return fmt.Errorf("no allocation")
		}
		a := as[0]
		if a.ClientStatus != "failed" || a.TaskStates["x"].Restarts != 2 {
			return fmt.Errorf("allocation %s, restarts %d", a.ClientStatus, a.TaskStates["x"].Restarts)
		}
		return nil
	})
	out, _ := c.cli("alloc", "status", c.allocs("exit")[0].ID)
	if !strings.Contains(out, "Exit Code: 3") && !strings.Contains(out, "exit code 3") && !strings.Contains(out, "Exit code: 3") {
		t.Errorf("alloc status does not show the exit code:\n%s", out)
	}
}
