package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Against a real central: job inspect's JSON run again is the same job
// (no new version, as Nomad does not version an unchanged job), a change
// made in that JSON is a new version, and job validate asks central, which
// refuses what only it can see (another region).
func TestJobInspectRunAndValidateWithCentral(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	dir := t.TempDir()
	hcl := `variable "cmd" {
  type = string
}
job "web" {
  datacenters = ["dc1"]
  type        = "batch"
  meta {
    motd = file("motd.txt")
  }
  group "g" {
    task "t" {
      driver = "exec"
      config {
        command = var.cmd
        args    = ["1000"]
      }
    }
  }
}
`
	file := filepath.Join(dir, "web.hcl")
	os.WriteFile(file, []byte(hcl), 0o644)
	os.WriteFile(filepath.Join(dir, "motd.txt"), []byte("hello from the job file's directory"), 0o644)
	os.WriteFile(filepath.Join(dir, "prod.hcl"), []byte(`cmd = "/bin/sleep"`+"\n"), 0o644)
	if out, code := c.cli("job", "validate", "-var-file", filepath.Join(dir, "prod.hcl"), file); code != 0 || !strings.Contains(out, "Job validation successful") {
		t.Fatalf("validate exited %d:\n%s", code, out)
	}
	if out, code := c.cli("job", "run", "-detach", "-var-file", filepath.Join(dir, "prod.hcl"), file); code != 0 {
		t.Fatalf("run exited %d:\n%s", code, out)
	}
	type job struct {
		Version uint64            `json:"version"`
		Meta    map[string]string `json:"meta"`
	}
	var v0 job
	if err := c.get("/v1/job/web", &v0); err != nil || v0.Version != 0 || v0.Meta["motd"] != "hello from the job file's directory" {
		t.Fatalf("registered job: %v %+v", err, v0)
	}
	inspected, code := c.cli("job", "inspect", "web")
	if code != 0 {
		t.Fatalf("inspect exited %d:\n%s", code, inspected)
	}
	js := filepath.Join(dir, "web.json")
	os.WriteFile(js, []byte(inspected), 0o644)
	if out, code := c.cli("job", "run", "-detach", js); code != 0 {
		t.Fatalf("run of inspect's JSON exited %d:\n%s", code, out)
	}
	var again job
	if err := c.get("/v1/job/web", &again); err != nil || again.Version != 0 {
		t.Fatalf("unchanged job run again: %v version %d, want 0", err, again.Version)
	}
	os.WriteFile(js, []byte(strings.Replace(inspected, `"/bin/sleep"`, `"/bin/true"`, 1)), 0o644)
	if out, code := c.cli("job", "run", "-detach", js); code != 0 {
		t.Fatalf("run of changed JSON exited %d:\n%s", code, out)
	}
	if err := c.get("/v1/job/web", &again); err != nil || again.Version != 1 {
		t.Fatalf("changed job: %v version %d, want 1", err, again.Version)
	}
	if out, code := c.cli("job", "inspect", "-version", "0", "web"); code != 0 || !strings.Contains(out, `"/bin/sleep"`) {
		t.Fatalf("inspect -version 0 exited %d:\n%s", code, out)
	}
	// Only central knows its region: job validate asks it.
	mars := filepath.Join(dir, "mars.hcl")
	os.WriteFile(mars, []byte(strings.Replace(hcl, `type        = "batch"`, "type        = \"batch\"\n  region      = \"mars\"", 1)), 0o644)
	if out, code := c.cli("job", "validate", "-var", "cmd=/bin/true", mars); code != 1 || !strings.Contains(out, `region "mars" is not this cluster's region`) {
		t.Fatalf("validate of another region exited %d:\n%s", code, out)
	}
	var vs struct{ Versions []job }
	if err := c.get("/v1/job/web/versions", &vs); err != nil || len(vs.Versions) != 2 {
		t.Fatalf("validation changed the job's versions: %v %d", err, len(vs.Versions))
	}
}
