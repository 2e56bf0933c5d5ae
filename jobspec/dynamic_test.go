package jobspec

import (
	"fmt"
	"strings"
	"testing"
)

// A dynamic block generates one block per element of for_each, with the
// iterator's key and value in its labels and content, as jobspec2 does.
func TestDynamicBlocks(t *testing.T) {
	j, _, err := ParseWith(mustRead(t, "testdata/nomad-shapes/dynamic.hcl"), ParseOptions{Filename: "dynamic.hcl"})
	if err != nil {
		t.Fatal(err)
	}
	g := j.TaskGroups[0]
	var ports []string
	for _, p := range g.Networks[0].Ports {
		ports = append(ports, fmt.Sprintf("%s:%d", p.Label, p.To))
	}
	if got := strings.Join(ports, " "); got != "http:8080 metrics:9090" {
		t.Errorf("ports %q, want http:8080 metrics:9090", got)
	}
	tk := g.Tasks[0]
	var svcs []string
	for _, s := range tk.Services {
		svcs = append(svcs, s.Name+"@"+s.PortLabel+"/"+s.Provider)
	}
	if got := strings.Join(svcs, " "); got != "dynamic-http@http/nomad dynamic-metrics@metrics/nomad" {
		t.Errorf("services %q", got)
	}
	var tmpls []string
	for _, tp := range tk.Templates {
		tmpls = append(tmpls, tp.Destination+"="+tp.Data)
	}
	if got := strings.Join(tmpls, " "); got != "local/app.ini=# app.ini\n local/db.ini=# db.ini\n" {
		t.Errorf("templates %q", got)
	}
}

func TestDynamicBlockShapes(t *testing.T) {
	const head = "locals {\n  ports = { a = 1, b = 2 }\n}\njob \"j\" {\n  group \"g\" {\n"
	const tail = "    task \"t\" {\n      driver = \"exec\"\n      config { command = \"/bin/true\" }\n    }\n  }\n}\n"
	for _, tc := range []struct {
		name, body string
		ports      string // label:to, when it parses
		err        string // when it does not
	}{
		{name: "default iterator", body: `network {
  dynamic "port" {
    for_each = local.ports
    labels   = [port.key]
    content { to = port.value * 1000 }
  }
}`, ports: "a:1000 b:2000"},
		{name: "list with index keys", body: `network {
  dynamic "port" {
    for_each = ["x", "y"]
    iterator = p
    labels   = ["${p.value}${p.key}"]
    content { static = 9000 + p.key }
  }
}`, ports: "x0:9000 y1:9001"},
		{name: "nested uses outer", body: `dynamic "network" {
  for_each = [1]
  iterator = n
  content {
    dynamic "port" {
      for_each = local.ports
      labels   = ["${port.key}${n.value}"]
      content { to = port.value + n.value }
    }
  }
}`, ports: "a1:2 b1:3"},
		{name: "shadowed iterator", body: `network {
  dynamic "port" {
    for_each = { outer = 5 }
    labels   = [port.key]
    content { to = port.value }
  }
  port "plain" { to = 7 }
}`, ports: "outer:5 plain:7"},
		{name: "for expression hides the iterator", body: `network {
  dynamic "port" {
    for_each = local.ports
    labels   = [port.key]
    content { to = length([for port in [1, 2, 3] : port]) }
  }
}`, ports: "a:3 b:3"},
		{name: "empty for_each", body: `network {
  dynamic "port" {
    for_each = []
    content { to = 1 }
  }
}`, ports: ""},
		{name: "no for_each", body: `network {
  dynamic "port" {
    content { to = 1 }
  }
}`, err: `j.hcl:7: dynamic "port" needs for_each and a content block`},
		{name: "for_each not a collection", body: `network {
  dynamic "port" {
    for_each = 3
    content { to = 1 }
  }
}`, err: `j.hcl:8: dynamic "port": for_each must be a collection, got number`},
		{name: "iterator not a name", body: `network {
  dynamic "port" {
    for_each = [1]
    iterator = "p"
    content { to = 1 }
  }
}`, err: `j.hcl:9: dynamic "port": iterator must be a name`},
		{name: "labels not strings", body: `network {
  dynamic "port" {
    for_each = [1]
    labels   = [[1]]
    content { to = 1 }
  }
}`, err: `dynamic "port": labels must be a list of strings`},
		{name: "error inside content keeps its line", body: `network {
  dynamic "port" {
    for_each = local.ports
    labels   = [port.key]
    content {
      to = port.nope
    }
  }
}`, err: `j.hcl:11: Unsupported attribute`},
		{name: "unknown name in content", body: `network {
  dynamic "port" {
    for_each = local.ports
    labels   = [port.key]
    content {
      too = 1
    }
  }
}`, err: `j.hcl:11: group "g" port "a": unknown attribute "too"`},
		{name: "unknown attribute of dynamic", body: `network {
  dynamic "port" {
    for_each = [1]
    each     = 2
    content { to = 1 }
  }
}`, err: `j.hcl:9: dynamic "port": unknown attribute "each"`},
		{name: "too many blocks", body: `dynamic "constraint" {
  for_each = split(",", "` + strings.Repeat(",", maxDynamicBlocks) + `")
  content {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
}`, err: fmt.Sprintf("dynamic blocks generate more than %d blocks", maxDynamicBlocks)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := head + tc.body + "\n" + tail
			j, _, err := ParseWith([]byte(src), ParseOptions{Filename: "j.hcl"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ports []string
			for _, n := range j.TaskGroups[0].Networks {
				for _, p := range n.Ports {
					ports = append(ports, fmt.Sprintf("%s:%d", p.Label, p.To+p.Static))
				}
			}
			if got := strings.Join(ports, " "); got != tc.ports {
				t.Errorf("ports %q, want %q", got, tc.ports)
			}
		})
	}
}
