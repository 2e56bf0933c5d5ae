package podman

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/drivers/podman/podmantest"
)

func TestResolveImage(t *testing.T) {
	tests := []struct{ image, registry, want string }{
		// Short names: Docker Hub, library/ for a single component.
		{"redis:7", DefaultRegistry, "docker.io/library/redis:7"},
		{"redis", DefaultRegistry, "docker.io/library/redis"},
		{"busybox@sha256:abc", DefaultRegistry, "docker.io/library/busybox@sha256:abc"},
		{"hashicorpdemoapp/product-api-db:v0.0.20", DefaultRegistry, "docker.io/hashicorpdemoapp/product-api-db:v0.0.20"},
		{"org/team/app:1", DefaultRegistry, "docker.io/org/team/app:1"},
		// A registry named: unchanged.
		{"localhost/web:1.4", DefaultRegistry, "localhost/web:1.4"},
		{"localhost:5000/web", DefaultRegistry, "localhost:5000/web"},
		{"docker.io/redis:7", DefaultRegistry, "docker.io/redis:7"},
		{"quay.io/podman/hello", DefaultRegistry, "quay.io/podman/hello"},
		{"registry:5000/app", DefaultRegistry, "registry:5000/app"},
		{"MyRegistry/app", DefaultRegistry, "MyRegistry/app"}, // upper case: not a namespace (Docker's rule)
		// Another default registry: no library/ outside Docker Hub.
		{"redis:7", "registry.example.com:5000", "registry.example.com:5000/redis:7"},
		{"org/app", "localhost", "localhost/org/app"},
		{"quay.io/x/y", "localhost", "quay.io/x/y"},
		// Podman's own rules.
		{"redis:7", NoDefaultRegistry, "redis:7"},
		{"org/app", NoDefaultRegistry, "org/app"},
	}
	for _, tt := range tests {
		if got := resolveImage(tt.image, tt.registry); got != tt.want {
			t.Errorf("resolveImage(%q, %q) = %q, want %q", tt.image, tt.registry, got, tt.want)
		}
		// What the driver sends must still pass its own check.
		if err := checkImageRef(resolveImage(tt.image, tt.registry)); err != nil {
			t.Errorf("resolved %q: %v", tt.image, err)
		}
	}
}

func TestCheckDefaultRegistry(t *testing.T) {
	for _, ok := range []string{"docker.io", "none", "localhost", "localhost:5000", "registry.example.com:5000", "10.0.0.2:5000", "mirror.gcr.io"} {
		if err := CheckDefaultRegistry(ok); err != nil {
			t.Errorf("CheckDefaultRegistry(%q) = %v, want nil", ok, err)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"", "empty"},
		{"myregistry", "Docker Hub namespace"},
		{"https://docker.io", "not a host name"},
		{"docker.io/library", "not a host name"},
		{"registry.example.com:http", "not a port number"},
		{"registry.example.com:0", "not a port number"},
		{"registry.example.com:99999", "not a port number"},
		{"bad..host", "not a host name"},
		{"-x.io", "not a host name"},
		{"reg istry.io", "not a host name"},
	} {
		err := CheckDefaultRegistry(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckDefaultRegistry(%q) = %v, want an error saying %q", tt.in, err, tt.want)
		}
	}
}

// The zero Options resolve short names on Docker Hub.
func TestNewDefaultRegistry(t *testing.T) {
	if got := New(Options{}).opts.DefaultRegistry; got != DefaultRegistry {
		t.Fatalf("DefaultRegistry = %q, want %q", got, DefaultRegistry)
	}
	if got := New(Options{DefaultRegistry: NoDefaultRegistry}).opts.DefaultRegistry; got != NoDefaultRegistry {
		t.Fatalf("DefaultRegistry = %q, want %q", got, NoDefaultRegistry)
	}
}

// imageName is the image a container was created from, as Podman recorded
// the reference the driver sent.
func imageName(t *testing.T, d *Driver, container string) string {
	t.Helper()
	var r struct {
		ImageName string `json:"ImageName"`
	}
	if err := d.client.call(context.Background(), http.MethodGet, "/containers/"+container+"/json", nil, nil, &r); err != nil {
		t.Fatalf("inspect %s: %v", container, err)
	}
	return r.ImageName
}

// With the default registry, a short name runs the Docker Hub image of
// that name (made locally here, so nothing is pulled) even where Podman's
// own rules would pick localhost/<name> first; a localhost/ image runs as
// written; with "none" Podman's rules decide (localhost/ first).
func TestShortImageNameRunsDockerHubName(t *testing.T) {
	e := newEnv(t)
	// Two different images answer to the short name tether-short:1: the
	// Docker Hub one sets WHICH=hub, the localhost one is the test image.
	podmantest.Podman(t, e.socket, "create", "--name", "hub-base", e.image, "true")
	podmantest.Podman(t, e.socket, "commit", "--change", "ENV=WHICH=hub", "hub-base", "docker.io/library/tether-short:1")
	podmantest.Podman(t, e.socket, "rm", "hub-base")
	podmantest.Podman(t, e.socket, "tag", e.image, "localhost/tether-short:1")
	for _, tt := range []struct{ registry, image, want, which string }{
		{"", "tether-short:1", "docker.io/library/tether-short:1", "hub"},
		{"", e.image, e.image, ""},
		{NoDefaultRegistry, "tether-short:1", "localhost/tether-short:1", ""},
	} {
		d := e.driver(Options{DefaultRegistry: tt.registry})
		cfg := e.task(t, "short", "echo which=$WHICH")
		cfg.Config["image"] = tt.image
		if r := wait(t, start(t, d, cfg), 30*time.Second); !r.Successful() {
			t.Fatalf("image %s: %+v", tt.image, r)
		}
		fileHas(t, cfg.StdoutPath+".0", "which="+tt.which+"\n")
		if got := imageName(t, d, containerName(cfg)); got != tt.want {
			t.Errorf("registry %q, image %q: the container was created from %q, want %q", tt.registry, tt.image, got, tt.want)
		}
	}
}

// A short name whose Docker Hub image is not on the node, while Podman has
// a local image of that short name (podman import ... tether-amb:1 names
// it localhost/tether-amb:1), is refused without a pull: pulling would
// run whatever Docker Hub serves under that name instead of the node's.
func TestShortNameNotSwappedForLocalImage(t *testing.T) {
	e := newEnv(t)
	podmantest.Podman(t, e.socket, "tag", e.image, "localhost/tether-amb:1")
	d := e.driver(Options{PullTimeout: time.Nanosecond}) // a pull attempt fails at once instead of leaving the host
	cfg := e.task(t, "amb", "echo ran")
	cfg.Config["image"] = "tether-amb:1"
	_, err := d.Start(context.Background(), cfg)
	if !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("Start = %v, want ErrImageNotFound", err)
	}
	for _, want := range []string{`"tether-amb:1" means docker.io/library/tether-amb:1`, "not pulling over it", `image = "localhost/tether-amb:1"`, `default_registry = "localhost"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// As the error says: the full name, or default_registry = "localhost".
	for _, c := range []struct{ registry, image string }{{"", "localhost/tether-amb:1"}, {"localhost", "tether-amb:1"}} {
		cfg := e.task(t, "amb", "echo ran")
		cfg.Config["image"] = c.image
		if r := wait(t, start(t, e.driver(Options{DefaultRegistry: c.registry}), cfg), 30*time.Second); !r.Successful() {
			t.Fatalf("registry %q, image %s: %+v", c.registry, c.image, r)
		}
	}
}
