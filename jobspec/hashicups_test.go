package jobspec_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/jobspec/corpus"
)

// The edge tutorial's two HashiCups jobs connect only through names: each
// nomadService template names a service the other job registers under
// its default name (<job>-<group>-<task>), and nginx's template reads the
// cleaned env name of a port of its group. The corpus shapes must keep
// fitting together, or the test of "HashiCups runs" tests nothing.
func TestHashiCupsShapesConnect(t *testing.T) {
	root, err := corpus.Root()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := corpus.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*jobspec.Job
	for _, name := range []string{"hashicups.hcl", "hashicups-edge.hcl"} {
		i := slices.IndexFunc(cases, func(c corpus.Case) bool { return c.Name == "jobspec/testdata/nomad-shapes/"+name })
		if i < 0 {
			t.Fatalf("%s is not in the corpus", name)
		}
		opts, _, err := cases[i].Options()
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := jobspec.ParseWith(cases[i].Src, opts)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	registered := map[string]bool{}
	for _, j := range jobs {
		for _, g := range j.TaskGroups {
			for _, tk := range g.Tasks {
				for _, s := range tk.Services {
					registered[s.Name] = true
				}
			}
		}
	}
	for _, want := range []string{"hashicups-hashicups-db", "hashicups-hashicups-product-api", "hashicups-edge-hashicups-edge-nginx"} {
		if !registered[want] {
			t.Errorf("no job registers %s (registered: %v)", want, registered)
		}
	}
	svcRef := regexp.MustCompile(`nomadService "([^"]+)"`)
	envRef := regexp.MustCompile(`env "NOMAD_(?:IP|PORT|ADDR)_([A-Za-z0-9_]+)"`)
	uses := 0
	for _, j := range jobs {
		for _, g := range j.TaskGroups {
			ports := map[string]bool{}
			for _, n := range g.Networks {
				for _, p := range n.Ports {
					ports[strings.NewReplacer("-", "_", ".", "_").Replace(p.Label)] = true
				}
			}
			for _, tk := range g.Tasks {
				for _, tm := range tk.Templates {
					for _, m := range svcRef.FindAllStringSubmatch(tm.Data, -1) {
						uses++
						if !registered[m[1]] {
							t.Errorf("task %s's template reads service %q, which neither job registers", tk.Name, m[1])
						}
					}
					for _, m := range envRef.FindAllStringSubmatch(tm.Data, -1) {
						uses++
						if !ports[m[1]] {
							t.Errorf("task %s's template reads a port %q its group does not have", tk.Name, m[1])
						}
					}
				}
			}
		}
	}
	if uses < 5 {
		t.Errorf("only %d service and port references in the templates; the shapes lost them", uses)
	}
}
