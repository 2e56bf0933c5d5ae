package jobspec

import (
	"strings"
	"testing"
	"time"
)

func TestCheckServiceName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // substring of the summary; "" = valid
	}{
		{"web", ""},
		{"web-api-2", ""},
		{"Web-API", ""},
		{strings.Repeat("a", 63), ""},
		{"${NOMAD_JOB_NAME}-web", ""},
		{"${NOMAD_META_x}", ""},
		{"", "has no name"},
		{"web+api", "MQTT topic"},
		{"web#", "MQTT topic"},
		{"a/b", "MQTT topic"},
		{"${NOMAD_JOB_NAME}/web", "MQTT topic"},
		{"web\x01", "MQTT topic"},
		{strings.Repeat("a", 64), "over the limit of 63"},
		{"web_api", "not a valid DNS label"},
		{"-web", "not a valid DNS label"},
		{"web-", "not a valid DNS label"},
		{"web.api", "not a valid DNS label"},
		{"wéb", "not a valid DNS label"},
	} {
		got, fix := checkServiceName(tc.name)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%q: rejected: %s", tc.name, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%q: got %q, want it to contain %q", tc.name, got, tc.want)
		case tc.want != "" && fix == "":
			t.Errorf("%q: no fix given", tc.name)
		}
	}
}

func TestDefaultServiceNamesAreValid(t *testing.T) {
	src := `job "shop" {
  group "api" {
    service {}
    task "server" {
      driver = "exec"
      config { command = "/bin/server" }
      service {}
    }
  }
}`
	j, err := Parse("shop.hcl", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.TaskGroups[0].Services[0].Name; got != "shop-api" {
		t.Errorf("group service default name %q, want shop-api", got)
	}
	if got := j.TaskGroups[0].Tasks[0].Services[0].Name; got != "shop-api-server" {
		t.Errorf("task service default name %q, want shop-api-server", got)
	}
}

func TestTemplateSourceAndSplay(t *testing.T) {
	src := `job "shop" {
  group "api" {
    task "server" {
      driver = "exec"
      config { command = "/bin/server" }
      template {
        source      = "local/upstreams.tpl"
        destination = "local/upstreams.conf"
        splay       = "3s"
      }
    }
  }
}`
	j, err := Parse("shop.hcl", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	tm := j.TaskGroups[0].Tasks[0].Templates[0]
	if tm.Source != "local/upstreams.tpl" || tm.Splay != 3*time.Second || tm.Data != "" {
		t.Errorf("template = %+v", tm)
	}
}
