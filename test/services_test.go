package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type serviceInstance struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	NodeID  string `json:"node_id"`
	AllocID string `json:"alloc_id"`
	Healthy bool   `json:"healthy"`
}

func (c *cluster) service(name string, all bool) []serviceInstance {
	var out []serviceInstance
	q := ""
	if all {
		q = "?all=true"
	}
	if err := c.get("/v1/service/"+name+q, &out); err != nil {
		c.t.Fatalf("service %s: %v", name, err)
	}
	return out
}

// The tutorial's shape: an API in dc1 registered in native service
// discovery with a health check, a consumer in dc2 whose template renders
// the API's address and which really fetches from it. A failing check
// takes the instance out of lookups and of the rendered file; with central
// gone, a restarted consumer still renders and connects.
func serviceDiscovery(t *testing.T, c *cluster) {
	requireTool(t, "busybox", "/bin/busybox")
	work := t.TempDir()
	c.startAgent("onprem")
	c.startAgent("edge", "-datacenter", "dc2")
	c.waitNode("onprem", "ready", 20*time.Second)
	c.waitNode("edge", "ready", 20*time.Second)

	api := filepath.Join(work, "api.hcl")
	os.WriteFile(api, []byte(`job "product" {
  datacenters = ["dc1"]
  group "api" {
    update {
      max_parallel = 0
    }
    network {
      port "http" {}
    }
    service {
      name     = "product-api"
      port     = "http"
      provider = "nomad"
      check {
        type     = "http"
        path     = "/health.txt"
        interval = "300ms"
        timeout  = "1s"
      }
    }
    task "httpd" {
      driver = "exec"
      config {
        command = "busybox"
        args    = ["httpd", "-f", "-p", "127.0.0.1:${NOMAD_PORT_http}", "-h", "${NOMAD_TASK_DIR}"]
      }
      template {
        data        = "ok"
        destination = "local/health.txt"
      }
      template {
        data        = "products from {{ env \"NOMAD_ALLOC_ID\" }}"
        destination = "local/products.txt"
      }
    }
  }
}
`), 0o644)
	fe := filepath.Join(work, "frontend.hcl")
	os.WriteFile(fe, []byte(fmt.Sprintf(`job "frontend" {
  datacenters = ["dc2"]
  group "fe" {
    update {
      max_parallel = 0
    }
    restart {
      attempts = 10
      delay    = "200ms"
      interval = "1m"
      mode     = "delay"
    }
    task "fetch" {
      driver = "exec"
      template {
        data        = "{{ range nomadService \"product-api\" }}http://{{ .Address }}:{{ .Port }}{{ end }}"
        destination = "local/upstream"
        change_mode = "restart"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "echo $$ > %[1]s/fe-pid; while true; do if busybox wget -q -O %[1]s/fetched.tmp \"$(cat local/upstream)/products.txt\"; then mv %[1]s/fetched.tmp %[1]s/fetched; else rm -f %[1]s/fetched; fi; sleep 0.2; done"]
      }
    }
  }
}
`, work)), 0o644)
	for _, job := range []string{api, fe} {
		if out, code := c.cli("job", "submit", job); code != 0 {
			t.Fatalf("submit %s exited %d:\n%s", job, code, out)
		}
	}
	var apiAlloc string
	eventually(t, 30*time.Second, func() error {
		inst := c.service("product-api", false)
		if len(inst) != 1 || !inst[0].Healthy || inst[0].Address != "127.0.0.1" {
			return fmt.Errorf("product-api instances: %+v", inst)
		}
		apiAlloc = inst[0].AllocID
		return nil
	})
	fetched := func() string {
		b, _ := os.ReadFile(filepath.Join(work, "fetched"))
		return string(b)
	}
	eventually(t, 30*time.Second, func() error {
		if got := fetched(); got != "products from "+apiAlloc {
			return fmt.Errorf("consumer fetched %q", got)
		}
		return nil
	})
	if out, code := c.cli("service", "info", "product-api"); code != 0 || !strings.Contains(out, "127.0.0.1") {
		t.Errorf("service info exited %d:\n%s", code, out)
	}

	// The check fails: the instance leaves lookups and the rendered file.
	health := filepath.Join(c.dir, "agent-onprem", "allocs", apiAlloc, "httpd", "local", "health.txt")
	if err := os.Remove(health); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if inst := c.service("product-api", false); len(inst) != 0 {
			return fmt.Errorf("unhealthy instance still listed: %+v", inst)
		}
		if all := c.service("product-api", true); len(all) != 1 || all[0].Healthy {
			return fmt.Errorf("?all=true: %+v", all)
		}
		if got := fetched(); got != "" {
			return fmt.Errorf("consumer still fetches %q from an unhealthy instance", got)
		}
		return nil
	})
	os.WriteFile(health, []byte("ok"), 0o644)
	eventually(t, 20*time.Second, func() error {
		if got := fetched(); got != "products from "+apiAlloc {
			return fmt.Errorf("consumer fetched %q after recovery", got)
		}
		return nil
	})

	// Central goes away. The consumer task restarts and still renders its
	// upstream (from the site broker's retained message or the agent's
	// cache) and connects.
	c.central.stop(syscall.SIGKILL)
	b, _ := os.ReadFile(filepath.Join(work, "fe-pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("no consumer pid: %q", b)
	}
	os.Remove(filepath.Join(work, "fetched"))
	syscall.Kill(-pid, syscall.SIGKILL)
	eventually(t, 30*time.Second, func() error {
		b, _ := os.ReadFile(filepath.Join(work, "fe-pid"))
		if now, _ := strconv.Atoi(strings.TrimSpace(string(b))); now == pid {
			return fmt.Errorf("consumer not restarted yet")
		}
		if got := fetched(); got != "products from "+apiAlloc {
			return fmt.Errorf("restarted consumer fetched %q with central down", got)
		}
		return nil
	})
}

func TestServiceDiscoveryEmbeddedBroker(t *testing.T) {
	serviceDiscovery(t, startCentral(t, clusterOpts{}))
}

func TestServiceDiscoveryMosquitto(t *testing.T) {
	serviceDiscovery(t, startCentral(t, clusterOpts{broker: startMosquitto(t)}))
}

// A service name that cannot be an MQTT topic level is refused at submit.
func TestServiceNameWithWildcardRefused(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	path := filepath.Join(t.TempDir(), "wild.hcl")
	os.WriteFile(path, []byte("job \"w\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"exec\"\n      config {\n        command = \"/bin/true\"\n      }\n      service {\n        name = \"api+v1\"\n      }\n    }\n  }\n}\n"), 0o644)
	out, code := c.cli("job", "submit", path)
	if code == 0 || !strings.Contains(out, "wild.hcl:9") {
		t.Fatalf("a service name with '+' was not refused with file:line (exit %d):\n%s", code, out)
	}
}
