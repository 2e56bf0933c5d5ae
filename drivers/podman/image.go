package podman

import (
	"fmt"
	"strconv"
	"strings"
)

// Default registries for images that name none.
const (
	// DefaultRegistry is where a short image name ("redis:7",
	// "hashicorpdemoapp/product-api-db:v0.0.20") is pulled from unless the
	// agent says otherwise: Docker Hub, as Docker and Nomad's Docker
	// driver assume.
	DefaultRegistry = "docker.io"
	// NoDefaultRegistry leaves short names to Podman's own rules
	// (registries.conf: unqualified-search-registries, short-name-mode).
	NoDefaultRegistry = "none"
)

// CheckDefaultRegistry reports whether r can be a default registry: "none",
// or a registry host with an optional port that Podman reads as a registry
// (it has a '.' or a ':' or is "localhost"; "myregistry" alone would be
// read as a Docker Hub namespace).
func CheckDefaultRegistry(r string) error {
	if r == NoDefaultRegistry {
		return nil
	}
	const eg = `e.g. "docker.io", "registry.example.com:5000", or "none" for Podman's own short-name rules`
	if r == "" {
		return fmt.Errorf("default registry is empty: write a registry host, %s", eg)
	}
	if strings.Contains(r, "/") {
		return fmt.Errorf("default registry %q is not a host name[:port] (no scheme, no path), %s", r, eg)
	}
	host, port, hasPort := strings.Cut(r, ":")
	if hasPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("default registry %q: port %q is not a port number (1-65535), %s", r, port, eg)
		}
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("default registry %q is not a host name[:port] (no scheme, no path), %s", r, eg)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("default registry %q is not a host name[:port] (no scheme, no path), %s", r, eg)
			}
		}
	}
	if !namesRegistry(r) {
		return fmt.Errorf("default registry %q would be read as a Docker Hub namespace, not a registry: it needs a '.' or a port, or is localhost, %s", r, eg)
	}
	return nil
}

// namesRegistry reports whether the first path component of an image
// reference is a registry rather than a repository namespace, by Docker's
// rule: it has a '.' or a ':' (a port), is "localhost", or has upper-case
// letters (repository names are lower case).
func namesRegistry(first string) bool {
	return strings.ContainsAny(first, ".:") || first == "localhost" || strings.ToLower(first) != first
}

// resolveImage returns the reference to use for image: unchanged if it
// names a registry or registry is NoDefaultRegistry; else registry/image,
// with Docker Hub's "library/" for an image of one component there
// ("redis:7" → "docker.io/library/redis:7").
// An empty registry is taken as NoDefaultRegistry (New puts
// DefaultRegistry in an empty option).
func resolveImage(image, registry string) string {
	if registry == NoDefaultRegistry || registry == "" {
		return image
	}
	first, _, hasSlash := strings.Cut(image, "/")
	switch {
	case hasSlash && namesRegistry(first):
		return image
	case !hasSlash && registry == DefaultRegistry:
		return registry + "/library/" + image
	}
	return registry + "/" + image
}

// DefaultRegistry is the registry this driver puts before a short image
// name, or NoDefaultRegistry.
func (d *Driver) DefaultRegistry() string { return d.opts.DefaultRegistry }
