package api_test

import (
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
)

// What an agent would refuse is refused by central's API, before any node
// sees the job: a driver config key, a template function, an artifact
// source, each at its line of the job file (or by path for JSON).
func TestSubmitRefusesWhatAgentsRefuse(t *testing.T) {
	_, srv := newTestServer(t)
	const src = `job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "nginx" {
      driver = "podman"
      config {
        image          = "nginx:1.25"
        auth_soft_fail = true
      }
      template {
        destination = "local/app.env"
        data        = <<EOT
DB={{ with nomadVar "nomad/jobs/web" }}{{ .db }}{{ end }}
EOT
      }
      artifact {
        source = "git::https://example.com/site"
      }
    }
  }
}
`
	for _, path := range []string{"/v1/validate/job", "/v1/jobs"} {
		r := do(t, srv, "POST", path, map[string]any{"hcl": src, "filename": "web.hcl"})
		body := string(r.body)
		if path == "/v1/validate/job" {
			got := decode[api.ValidateResponse](t, r)
			if got.Valid {
				t.Fatalf("%s: valid", path)
			}
			body = got.Error
		} else if r.code != 400 {
			t.Fatalf("%s: %d %s", path, r.code, r.body)
		}
		for _, want := range []string{
			`web.hcl:8: task \"nginx\": podman driver: config key \"auth_soft_fail\" is not supported`,
			`web.hcl:13: template \"local/app.env\": function \"nomadVar\" not defined; Tether has no variables store`,
			`web.hcl:17: artifact source \"git::https://example.com/site\" uses go-getter's \"git::\" getter`,
		} {
			if path == "/v1/validate/job" {
				want = strings.ReplaceAll(want, `\"`, `"`)
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %s in\n%s", path, want, body)
			}
		}
	}
	// A job sent as JSON gets the same checks, placed by path.
	r := do(t, srv, "POST", "/v1/jobs", `{"job":{"id":"x","type":"service","datacenters":["dc1"],"task_groups":[{"name":"g","count":1,"tasks":[{"name":"t","driver":"podman","config":{"image":"redis:7","port_map":{"db":6379}},"resources":{"cpu":1,"memory_mb":1}}]}]}}`)
	if r.code != 400 || !strings.Contains(string(r.body), `config key \"port_map\" is not supported; write ports = [\"http\"]`) {
		t.Fatalf("JSON: %d %s", r.code, r.body)
	}
}
