package api_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/api"
)

const fileHCL = `job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      template {
        data        = file("conf/app.tpl")
        destination = "local/app.conf"
      }
    }
  }
}
`

// The files a job file reads travel with it: central answers file() from
// them, never from its own disk, and says what to do when one is missing.
func TestSubmitFiles(t *testing.T) {
	b, srv := newTestServer(t)
	r := do(t, srv, "POST", "/v1/validate/job", map[string]any{"hcl": fileHCL, "filename": "web.hcl"})
	if got := decode[api.ValidateResponse](t, r); got.Valid || !strings.Contains(got.Error, "conf/app.tpl was not sent with the job") {
		t.Fatalf("file() without files: %d %s", r.code, r.body)
	}
	// An absolute path is not read from central's disk either.
	etc := strings.Replace(fileHCL, "conf/app.tpl", "/etc/hostname", 1)
	r = do(t, srv, "POST", "/v1/validate/job", map[string]any{"hcl": etc, "filename": "web.hcl"})
	if got := decode[api.ValidateResponse](t, r); got.Valid || !strings.Contains(got.Error, "/etc/hostname was not sent with the job") {
		t.Fatalf("file(\"/etc/hostname\") without files: %d %s", r.code, r.body)
	}
	r = do(t, srv, "POST", "/v1/jobs", map[string]any{"hcl": fileHCL, "filename": "web.hcl", "files": map[string][]byte{"conf/app.tpl": []byte("port={{ env \"NOMAD_PORT_http\" }}\n")}})
	if r.code != 200 {
		t.Fatalf("submit with files: %d %s", r.code, r.body)
	}
	j := b.JobByID("default", "web")
	if got := j.TaskGroups[0].Tasks[0].Templates[0].Data; got != "port={{ env \"NOMAD_PORT_http\" }}\n" {
		t.Fatalf("template data = %q", got)
	}
}

// env_variables (NOMAD_VAR_ values) rank below variables (-var,
// -var-file); names the file does not declare are ignored.
func TestSubmitEnvVariables(t *testing.T) {
	b, srv := newTestServer(t)
	varHCL := "variable \"cmd\" {\n  default = \"/bin/true\"\n}\n" + strings.Replace(webHCL, `"/bin/sleep"`, "var.cmd", 1)
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"env_variables": map[string]string{"cmd": "/bin/env", "undeclared": "x"}}, "/bin/env"},
		{map[string]any{"env_variables": map[string]string{"cmd": "/bin/env"}, "variables": map[string]string{"cmd": "/bin/var"}}, "/bin/var"},
	} {
		tc.body["hcl"], tc.body["filename"] = varHCL, "web.hcl"
		if r := do(t, srv, "POST", "/v1/jobs", tc.body); r.code != 200 {
			t.Fatalf("%v: %d %s", tc.body, r.code, r.body)
		}
		if got := b.JobByID("default", "web").TaskGroups[0].Tasks[0].Config["command"]; got != tc.want {
			t.Errorf("%v: command = %v, want %s", tc.body, got, tc.want)
		}
	}
	for _, tc := range []struct {
		body any
		want string
	}{
		{map[string]any{"job": map[string]any{"id": "x"}, "files": map[string][]byte{"a": []byte("b")}}, `apply only to "hcl"`},
		{map[string]any{"hcl": fileHCL, "files": map[string][]byte{"": []byte("b")}}, "empty path"},
		{map[string]any{"hcl": fileHCL, "files": map[string][]byte{"a": bytes.Repeat([]byte("x"), 2<<20)}}, "add up to"},
	} {
		if r := do(t, srv, "POST", "/v1/jobs", tc.body); r.code != 400 || !strings.Contains(errorOf(t, r), tc.want) {
			t.Errorf("%.80v: %d %.300s, want 400 %q", tc.body, r.code, r.body, tc.want)
		}
	}
}
