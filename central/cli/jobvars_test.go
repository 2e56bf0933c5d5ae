package cli

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const varsHCL = `variable "image" {
  type    = string
  default = "default"
}
variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}
job "web" {
  datacenters = var.dcs
  group "web" {
    task "server" {
      driver = "exec"
      config {
        command = "/bin/echo"
        args    = [var.image]
      }
    }
  }
}
`

// Variables come, lowest first, from the defaults, NOMAD_VAR_name,
// -var-file (a later file wins) and -var, as in Nomad.
func TestJobVariablesPrecedence(t *testing.T) {
	c := newCluster(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "web.hcl")
	os.WriteFile(file, []byte(varsHCL), 0o644)
	f1 := filepath.Join(dir, "one.hcl")
	os.WriteFile(f1, []byte("image = \"file1\"\ndcs = [\"dc2\", \"dc3\"]\n"), 0o644)
	f2 := filepath.Join(dir, "two.json")
	os.WriteFile(f2, []byte(`{"image": "file2"}`), 0o644)
	env := []string{"NOMAD_VAR_image=env", "NOMAD_VAR_undeclared=x", "PATH=/bin"}
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		image   string
		dcs     string
	}{
		{"default", nil, nil, "default", "dc1"},
		{"env over default", env, nil, "env", "dc1"},
		{"var-file over env", env, []string{"-var-file", f1}, "file1", "dc2,dc3"},
		{"later var-file wins", env, []string{"-var-file", f1, "-var-file", f2}, "file2", "dc2,dc3"},
		{"earlier var-file keeps what the later one does not set", nil, []string{"-var-file", f2, "-var-file", f1}, "file1", "dc2,dc3"},
		{"-var over all", env, []string{"-var-file", f1, "-var-file", f2, "-var", "image=flag", "-var", `dcs=["dc9"]`}, "flag", "dc9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"job", "run", "-detach"}, tc.args...), file)
			code, out, errOut := runEnviron(t, c.env(), tc.environ, args...)
			if code != 0 {
				t.Fatalf("exit %d %s %s", code, out, errOut)
			}
			j := c.b.JobByID("default", "web")
			if got := j.TaskGroups[0].Tasks[0].Config["args"].([]any)[0]; got != tc.image {
				t.Errorf("image = %v, want %s", got, tc.image)
			}
			if got := strings.Join(j.Datacenters, ","); got != tc.dcs {
				t.Errorf("datacenters = %s, want %s", got, tc.dcs)
			}
		})
	}
	// A var file that sets a variable the job does not declare is an
	// error naming the file, as with Nomad's default -hcl2-strict.
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("imag = \"x\"\n"), 0o644)
	code, _, errOut := runEnviron(t, c.env(), nil, "job", "validate", "-var-file", bad, file)
	if code != 1 || !strings.Contains(errOut, bad+` sets "imag", which `+file+" does not declare") {
		t.Errorf("undeclared: exit %d, stderr %q", code, errOut)
	}
	// A value of the wrong type names its file.
	os.WriteFile(bad, []byte("dcs = 3\n"), 0o644)
	code, _, errOut = runEnviron(t, c.env(), nil, "job", "validate", "-var-file", bad, file)
	if code != 1 || !strings.Contains(errOut, bad+": dcs = 3: ") {
		t.Errorf("wrong type in a var file: exit %d, stderr %q", code, errOut)
	}
	os.WriteFile(bad, []byte("image = var.x\n"), 0o644)
	code, _, errOut = runEnviron(t, c.env(), nil, "job", "validate", "-var-file", bad, file)
	if code != 1 || !strings.Contains(errOut, bad+":1: ") {
		t.Errorf("reference in a var file: exit %d, stderr %q", code, errOut)
	}
}

// file() reads relative to the job file's directory, not the working
// directory, and what it read travels with the job to central.
func TestJobFileFunctionRelativeToJobFile(t *testing.T) {
	c := newCluster(t)
	jobs := filepath.Join(t.TempDir(), "jobs")
	os.MkdirAll(filepath.Join(jobs, "conf"), 0o755)
	os.WriteFile(filepath.Join(jobs, "conf", "app.tpl"), []byte("listen {{ env \"NOMAD_PORT_http\" }}\n"), 0o644)
	os.WriteFile(filepath.Join(jobs, "web.hcl"), []byte(strings.Replace(webHCL, "      resources {", "      template {\n        data        = file(\"conf/app.tpl\")\n        destination = \"local/app.conf\"\n      }\n      resources {", 1)), 0o644)
	elsewhere := t.TempDir()
	os.WriteFile(filepath.Join(elsewhere, "conf"), []byte("not this"), 0o644)
	t.Chdir(elsewhere)
	rel, err := filepath.Rel(elsewhere, filepath.Join(jobs, "web.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := c.run(t, "job", "run", "-detach", rel); code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	if got := c.b.JobByID("default", "web").TaskGroups[0].Tasks[0].Templates[0].Data; got != "listen {{ env \"NOMAD_PORT_http\" }}\n" {
		t.Fatalf("template data = %q", got)
	}
	// A binary file read by filebase64() reaches central unchanged, and
	// fileexists() answers there as it did here.
	bin := []byte{0xff, 0x00, 0xfe, 'x'}
	os.WriteFile(filepath.Join(jobs, "conf", "blob.bin"), bin, 0o644)
	os.WriteFile(filepath.Join(jobs, "bin.hcl"), []byte(strings.Replace(webHCL, "  group \"web\" {", "  meta {\n    blob = filebase64(\"conf/blob.bin\")\n    has  = fileexists(\"conf/none\") ? \"yes\" : \"no\"\n  }\n  group \"web\" {", 1)), 0o644)
	rel2, _ := filepath.Rel(elsewhere, filepath.Join(jobs, "bin.hcl"))
	if code, out, errOut := c.run(t, "job", "run", "-detach", rel2); code != 0 {
		t.Fatalf("exit %d %s %s", code, out, errOut)
	}
	if m := c.b.JobByID("default", "web").Meta; m["blob"] != base64.StdEncoding.EncodeToString(bin) || m["has"] != "no" {
		t.Fatalf("meta = %v", m)
	}
	// A file that is not there is a local error at file:line.
	os.Remove(filepath.Join(jobs, "conf", "app.tpl"))
	code, _, errOut := c.run(t, "job", "validate", rel)
	if code != 1 || !strings.Contains(errOut, rel+":") || !strings.Contains(errOut, "app.tpl") {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut)
	}
}

// Only the NOMAD_VAR_ values the job file declares are sent: a secret in
// another NOMAD_VAR_ variable of the user's shell does not leave it.
func TestEnvVarsOnlyDeclared(t *testing.T) {
	e := &env{environ: func() []string {
		return []string{"NOMAD_VAR_image=env", "NOMAD_VAR_token=secret", "NOMAD_VAR_dcs=[\"x\"]", "HOME=/root", "NOMAD_VAR_"}
	}}
	got := e.envVars([]byte(varsHCL))
	if len(got) != 2 || got["image"] != "env" || got["dcs"] != `["x"]` {
		t.Fatalf("envVars = %v, want image and dcs only", got)
	}
}
