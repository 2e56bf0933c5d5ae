package edgeshop

import (
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

func findTask(t *testing.T, j *jobspec.Job, group, task string) *jobspec.Task {
	t.Helper()
	tg := j.LookupTaskGroup(group)
	if tg == nil {
		t.Fatalf("job %s has no group %q", j.ID, group)
	}
	for _, tk := range tg.Tasks {
		if tk.Name == task {
			return tk
		}
	}
	t.Fatalf("group %s has no task %q", group, task)
	return nil
}

func parse(t *testing.T, file string) *jobspec.Job {
	t.Helper()
	j, err := jobspec.ParseFile(file, map[string]string{"bin_dir": "/opt/edge-shop/bin"})
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	return j
}

// shop.hcl: dc1, db and product-api, services addressed by the node
// attribute, and a template that builds the DB connection string from the
// shop-db service into the environment.
func TestShopJob(t *testing.T) {
	j := parse(t, "shop.hcl")
	if strings.Join(j.Datacenters, ",") != "dc1" {
		t.Errorf("datacenters %v, want [dc1]", j.Datacenters)
	}
	db := findTask(t, j, "shop", "db")
	if db.Driver != "exec" || db.Config["command"] != "/opt/edge-shop/bin/shop-db" {
		t.Errorf("db task: driver %q config %v", db.Driver, db.Config)
	}
	if len(db.Services) != 1 || db.Services[0].Name != "shop-db" || db.Services[0].Provider != "nomad" ||
		db.Services[0].Address != "${attr.unique.network.ip-address}" || len(db.Services[0].Checks) != 1 {
		t.Errorf("db service: %+v", db.Services)
	}
	api := findTask(t, j, "shop", "product-api")
	if len(api.Templates) != 1 || !api.Templates[0].Env ||
		!strings.Contains(api.Templates[0].Data, `range service "shop-db"`) ||
		!strings.Contains(api.Templates[0].Data, "DB_CONNECTION=") {
		t.Errorf("product-api template: %+v", api.Templates)
	}
	if len(api.Services) != 1 || api.Services[0].Name != "shop-product-api" {
		t.Errorf("product-api service: %+v", api.Services)
	}
}

// shop-edge.hcl and its Podman variant: dc2, max_client_disconnect = 1h on
// every group, a noop template for the product API's address, payments as
// a wasm guest, and (podman) frontend and proxy in the local image.
func TestShopEdgeJobs(t *testing.T) {
	for _, tc := range []struct {
		file   string
		driver string // of frontend and proxy
	}{
		{"shop-edge.hcl", "exec"},
		{"shop-edge-podman.hcl", "podman"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			j := parse(t, tc.file)
			if strings.Join(j.Datacenters, ",") != "dc2" {
				t.Errorf("datacenters %v, want [dc2]", j.Datacenters)
			}
			for _, tg := range j.TaskGroups {
				if tg.MaxClientDisconnect == nil || *tg.MaxClientDisconnect != time.Hour {
					t.Errorf("group %s: max_client_disconnect %v, want 1h", tg.Name, tg.MaxClientDisconnect)
				}
			}
			pub := findTask(t, j, "shop-edge", "public-api")
			var noop bool
			for _, tp := range pub.Templates {
				noop = noop || (tp.ChangeMode == "noop" && tp.Env && strings.Contains(tp.Data, `service "shop-product-api"`))
			}
			if !noop {
				t.Errorf("public-api has no noop env template for shop-product-api: %+v", pub.Templates)
			}
			if pay := findTask(t, j, "payments", "payments"); pay.Driver != "wasm" || pay.Config["module"] != "/opt/edge-shop/bin/payments.wasm" {
				t.Errorf("payments: driver %q config %v", pay.Driver, pay.Config)
			}
			for _, name := range []string{"frontend", "proxy"} {
				tk := findTask(t, j, "shop-edge", name)
				if tk.Driver != tc.driver {
					t.Errorf("%s driver %q, want %q", name, tk.Driver, tc.driver)
				}
				if tc.driver == "podman" && (tk.Config["image"] != "localhost/edge-shop:latest" || tk.Config["network_mode"] != "host") {
					t.Errorf("%s config %v", name, tk.Config)
				}
			}
			var static int
			for _, n := range j.LookupTaskGroup("shop-edge").Networks {
				for _, p := range n.Ports {
					if p.Label == "http" {
						static = p.Static
					}
				}
			}
			if static != 8080 {
				t.Errorf("proxy port static %d, want 8080", static)
			}
		})
	}
}
