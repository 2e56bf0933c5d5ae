package jobspec

import (
	"strings"
	"testing"
)

// TestSubmitChecksFileLine: what a device would refuse (a driver config
// key, a template function) is refused at submit at the line that says it.
func TestSubmitChecksFileLine(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // each a line of the error
	}{
		{"docker key in podman config", `job "web" {
  group "g" {
    network {
      port "http" { to = 8080 }
    }
    task "nginx" {
      driver = "podman"
      config {
        image    = "nginx:1.25"
        ports    = ["http"]
        port_map = { http = 8080 }
      }
    }
  }
}`, []string{`web.hcl:11: task "nginx": podman driver: config key "port_map" is not supported; write ports = ["http"] and put the container port in the group's network block: port "http" { to = 8080 }`}},
		{"config as an attribute", `job "web" {
  group "g" {
    task "t" {
      driver = "podman"
      config = {
        image      = "redis:7"
        privileged = true
      }
    }
  }
}`, []string{`web.hcl:7: task "t": podman driver: config key "privileged" is not supported; remove it`}},
		{"mount block", `job "web" {
  group "g" {
    task "t" {
      driver = "podman"
      config {
        image = "redis:7"

        mount {
          type   = "bind"
          source = "local/redis.conf"
          target = "/etc/redis.conf"
        }
      }
    }
  }
}`, []string{`web.hcl:8: task "t": podman driver: config key "mount" is not supported; write bind mounts as volumes = ["/host/path:/container/path:ro"]`}},
		{"exec without command", `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config {
        args = ["-v"]
      }
    }
  }
}`, []string{`web.hcl:5: task "t": exec driver: config key "command" is required; add command = "/path/to/program"`}},
		{"unknown port", `job "web" {
  group "g" {
    task "t" {
      driver = "podman"
      config {
        image = "redis:7"
        ports = ["db"]
      }
    }
  }
}`, []string{`web.hcl:7: task "t": podman driver: config key "ports": port "db" is not in the group's network block (known: ); add port "db" { } to the group's network block`}},
		{"template function in a heredoc", `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/web" }
      template {
        destination = "local/app.env"
        data        = <<EOT
PORT={{ env "NOMAD_PORT_http" }}
DB_PASS={{ with nomadVar "nomad/jobs/web" }}{{ .pass }}{{ end }}
EOT
      }
    }
  }
}`, []string{`web.hcl:10: template "local/app.env": function "nomadVar" not defined; Tether has no variables store`}},
		{"template function in a quoted string", `job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/web" }
      template {
        destination = "local/app.conf"
        data        = "a\n{{ key \"app/config\" }}"
      }
    }
  }
}`, []string{`web.hcl:8: template "local/app.conf" (line 2 of its text): function "key" not defined; Tether has no key/value store`}},
		{"both, each at its line", `job "web" {
  group "g" {
    task "t" {
      driver = "podman"
      config {
        image = "redis:7"
        cap_add = ["NET_ADMIN"]
      }
      template {
        destination = "local/x"
        data        = <<-EOT
          {{ sockaddr "GetPrivateIP" }}
          EOT
      }
    }
  }
}`, []string{
			`web.hcl:7: task "t": podman driver: config key "cap_add" is not supported`,
			`web.hcl:12: template "local/x": function "sockaddr" not defined; read the node's address with env "attr.unique.network.ip-address"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("web.hcl", []byte(tc.src), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

// TestSubmitChecksAccept: a Nomad-shaped job with runtime interpolation in
// its config and a template using the agent's functions is accepted.
func TestSubmitChecksAccept(t *testing.T) {
	_, err := Parse("web.hcl", []byte(`job "web" {
  group "g" {
    network {
      port "http" { to = 8080 }
    }
    task "api" {
      driver = "podman"
      config {
        image    = "hashicorpdemoapp/product-api:${meta.version}"
        ports    = ["http"]
        work_dir = "${NOMAD_TASK_DIR}"
        args     = ["-listen", ":${NOMAD_PORT_http}"]
        volumes  = ["${NOMAD_ALLOC_DIR}/data:/data", "local/conf:/etc/app:ro"]
        labels   = { version = "${meta.version}" }
      }
      template {
        destination = "local/conf/upstreams"
        data        = <<EOT
{{ range nomadService "db" }}{{ .Address }}:{{ .Port }}
{{ end }}{{ env "attr.unique.network.ip-address" }}
EOT
      }
    }
  }
}`), nil)
	if err != nil {
		t.Fatal(err)
	}
}

// TestSubmitChecksJSON: a job sent as JSON gets the same checks, placed by
// path.
func TestSubmitChecksJSON(t *testing.T) {
	j := &Job{ID: "web", TaskGroups: []*TaskGroup{{Name: "g", Count: 1, Tasks: []*Task{{
		Name: "t", Driver: "podman", Config: map[string]any{"image": "redis:7", "auth_soft_fail": true},
		Templates: []*Template{{Destination: "local/x", Data: "{{ secret \"kv/x\" }}"}},
	}}}}}
	j.Canonicalize()
	err := j.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`job "web" group "g" task "t": task "t": podman driver: config key "auth_soft_fail" is not supported; remove it: Tether passes no registry credentials`,
		`job "web" group "g" task "t": template "local/x" (line 1 of its text): function "secret" not defined; Tether has no Vault integration`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestSubmitChecksArtifacts: artifact blocks are checked by the fetcher's
// own rules, plus Nomad's unpacking, which the agent does not do.
func TestSubmitChecksArtifacts(t *testing.T) {
	job := func(artifact string) []byte {
		return []byte(`job "web" {
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "local/app" }
      artifact {
` + artifact + `
      }
    }
  }
}`)
	}
	for _, tc := range []struct{ name, artifact, want string }{
		{"git", `        source = "git::https://github.com/org/app"`,
			`web.hcl:7: artifact source "git::https://github.com/org/app" uses go-getter's "git::" getter, which the agent does not have; git sources are not supported: download a release file over https with a checksum`},
		{"github shorthand", `        source = "github.com/org/app"`, `web.hcl:7: artifact source "github.com/org/app" is go-getter shorthand, not a URL`},
		{"checksum in the URL", `        source = "https://example.com/app?checksum=sha256:abc"`, `web.hcl:7: artifact source "https://example.com/app?checksum=sha256:abc" has the go-getter option "checksum" in its query`},
		{"zip", `        source = "https://releases.example.com/app_${attr.kernel.name}_${attr.cpu.arch}.zip"`,
			`web.hcl:7: artifact source "https://releases.example.com/app_${attr.kernel.name}_${attr.cpu.arch}.zip" is a .zip archive: Nomad unpacks it, the agent downloads it as it is; download the unpacked file instead, or write options { archive = false }`},
		{"tar.gz", `        source = "https://example.com/app.tar.gz"`, `is a .tar.gz archive`},
		{"escape", "        source = \"https://example.com/app\"\n        destination = \"../../x\"", `web.hcl:8: artifact destination "../../x": destination escapes the task dir`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("web.hcl", job(tc.artifact), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
	for _, ok := range []string{
		"        source = \"https://example.com/app.tgz\"\n        options {\n          archive = false\n        }",
		`        source = "https://releases.example.com/app_${attr.cpu.arch}"`,
		"        source = \"https://example.com/model.bin\"\n        destination = \"../alloc/data/\"",
		"        source = \"https://example.com/app\"\n        destination = \"${NOMAD_TASK_DIR}/bin\"",
	} {
		if _, err := Parse("web.hcl", job(ok), nil); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
