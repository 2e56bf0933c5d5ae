package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A port labelled "public-api" reaches the task as NOMAD_PORT_public_api
// (Nomad's cleaned name, the one the tutorial's HashiCups nginx template
// reads) in its environment, in ${...} of its args and in a template's
// env function, next to the spelling as written (which a shell does not
// import: read from /proc); a meta key "build-id" as NOMAD_META_build_id.
func TestCleanedEnvNamesEndToEnd(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	w := t.TempDir()
	port := freePort(t)
	job := lifeJob(t, "cleanenv", fmt.Sprintf(`job "cleanenv" {
  datacenters = ["dc1"]
  type        = "batch"
  meta {
    build-id = "b42"
  }
  group "frontend" {
    network {
      port "public-api" {
        static = %[2]d
      }
    }
    task "nginx" {
      driver = "exec"
      template {
        data        = <<-EOT
          proxy_pass http://127.0.0.1:{{ env "NOMAD_PORT_public_api" }};
        EOT
        destination = "local/nginx.conf"
      }
      config {
        command = "/bin/sh"
        args    = ["-c", "{ echo env=$NOMAD_PORT_public_api arg=${NOMAD_PORT_public_api} written=$(tr '\\000' '\\n' < /proc/$$/environ | sed -n s/^NOMAD_PORT_public-api=//p) addr=$NOMAD_ADDR_public_api meta=$NOMAD_META_build_id; cat local/nginx.conf; } > %[1]s/out.tmp && mv %[1]s/out.tmp %[1]s/out"]
      }
    }
  }
}
`, w, port))
	if out, code := c.cli("job", "submit", "-detach", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	var got string
	eventually(t, 30*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(w, "out"))
		got = string(b)
		return err
	})
	want := fmt.Sprintf("env=%[1]d arg=%[1]d written=%[1]d addr=127.0.0.1:%[1]d meta=b42\nproxy_pass http://127.0.0.1:%[1]d;\n", port)
	if got != want {
		t.Fatalf("the task saw:\n%s\nwant:\n%s", got, want)
	}
}
