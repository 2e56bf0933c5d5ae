package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/podman/podmantest"
)

// A Podman task submitted with the CLI serves HTTP from a container on its
// group port (the page comes from a template), survives an agent restart
// without being restarted, and is removed when its job stops.
func TestPodmanServiceEndToEnd(t *testing.T) {
	c, socket, image := startPodmanEdge(t)
	eventually(t, 10*time.Second, func() error {
		var nodes []struct {
			Drivers []string `json:"drivers"`
		}
		if err := c.get("/v1/nodes", &nodes); err != nil || len(nodes) != 1 {
			return fmt.Errorf("nodes: %v %+v", err, nodes)
		}
		if !slices.Contains(nodes[0].Drivers, "podman") {
			return fmt.Errorf("node drivers %v lack podman", nodes[0].Drivers)
		}
		return nil
	})

	job := filepath.Join(t.TempDir(), "web.hcl")
	os.WriteFile(job, []byte(fmt.Sprintf(`job "podweb" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {
        to = 8080
      }
    }
    task "httpd" {
      driver = "podman"
      config {
        image   = %q
        command = "httpd"
        args    = ["-f", "-p", "8080", "-h", "/local"]
        ports   = ["http"]
      }
      template {
        data        = "hello from podman in {{ env \"NOMAD_JOB_NAME\" }}\n"
        destination = "local/index.html"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
`, image)), 0o644)
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var url, allocID string
	eventually(t, 60*time.Second, func() error {
		as := c.allocs("podweb")
		if len(as) != 1 || as[0].ClientStatus != "running" {
			return fmt.Errorf("allocations: %+v", as)
		}
		allocID = as[0].ID
		var a allocPorts
		if err := c.get("/v1/allocation/"+as[0].ID, &a); err != nil || len(a.Ports) != 1 {
			return fmt.Errorf("ports: %v %+v", err, a)
		}
		url = fmt.Sprintf("http://127.0.0.1:%d/index.html", a.Ports[0].Value)
		return nil
	})
	eventually(t, 20*time.Second, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, "hello from podman in podweb") {
			return fmt.Errorf("body %q", body)
		}
		return nil
	})
	started := podmantest.Podman(t, socket, "ps", "--filter", "label=tether.alloc_id="+allocID, "--format", "{{.ID}} {{.StartedAt}}")
	if strings.TrimSpace(started) == "" {
		t.Fatalf("no labelled container for alloc %s", allocID)
	}

	// An agent restart re-attaches to the container: same container, same
	// start, no restart counted.
	c.agents["edge-1"].stop(syscall.SIGTERM)
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	eventually(t, 20*time.Second, func() error {
		as := c.allocs("podweb")
		if len(as) != 1 || as[0].ClientStatus != "running" || as[0].TaskStates["httpd"].Restarts != 0 {
			return fmt.Errorf("allocations after agent restart: %+v", as)
		}
		if _, err := httpGet(url); err != nil {
			return err
		}
		return nil
	})
	if now := podmantest.Podman(t, socket, "ps", "--filter", "label=tether.alloc_id="+allocID, "--format", "{{.ID}} {{.StartedAt}}"); now != started {
		t.Fatalf("container changed across the agent restart:\nbefore %q\nafter  %q", started, now)
	}

	if out, code := c.cli("job", "stop", "podweb"); code != 0 {
		t.Fatalf("job stop exited %d:\n%s", code, out)
	}
	eventually(t, 30*time.Second, func() error {
		if out := podmantest.Podman(t, socket, "ps", "-a", "--filter", "label=tether.alloc_id="+allocID, "--format", "{{.ID}}"); strings.TrimSpace(out) != "" {
			return fmt.Errorf("container still there: %s", out)
		}
		return nil
	})
}

// A container that keeps failing is restarted by the restart policy, then
// the allocation fails.
func TestPodmanRestartPolicy(t *testing.T) {
	c, _, image := startPodmanEdge(t)
	job := filepath.Join(t.TempDir(), "fail.hcl")
	os.WriteFile(job, []byte(fmt.Sprintf(`job "podfail" {
  datacenters = ["dc1"]
  group "g" {
    restart {
      attempts = 1
      interval = "1m"
      delay    = "100ms"
      mode     = "fail"
    }
    task "x" {
      driver = "podman"
      config {
        image   = %q
        command = "sh"
        args    = ["-c", "echo failing; exit 3"]
      }
    }
  }
}
`, image)), 0o644)
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	eventually(t, 60*time.Second, func() error {
		as := c.allocs("podfail")
		if len(as) == 0 || as[0].ClientStatus != "failed" || as[0].TaskStates["x"].Restarts != 1 {
			return fmt.Errorf("allocations: %+v", as)
		}
		return nil
	})
}

// startPodmanEdge starts a real Podman service, central and one agent
// ("edge-1", ready) using that Podman, and returns them with Podman's
// socket and the name of the test image imported into Podman.
func startPodmanEdge(t *testing.T) (c *cluster, socket, image string) {
	t.Helper()
	socket = podmantest.Start(t)
	image = podmantest.Image(t, socket)
	c = startCentral(t, clusterOpts{})
	c.agentEnv = []string{"CONTAINER_HOST=unix://" + socket}
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	return c, socket, image
}
