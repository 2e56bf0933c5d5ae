package podman

import (
	"context"
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

// checkNotShadowed refuses to pull image, the default registry's name for
// the short name written, when Podman already has a local image that the
// short name finds (localhost/<name>, imported with `podman import`, or
// one of registries.conf's). Pulling would swap the image the node has
// for whatever the registry serves under that name.
func (d *Driver) checkNotShadowed(ctx context.Context, image, written string) error {
	if written == image {
		return nil
	}
	ok, err := d.client.imageExists(ctx, written)
	if err != nil {
		return fmt.Errorf("podman driver: look up image %s: %w", written, err)
	}
	if !ok {
		return nil
	}
	return fmt.Errorf("%w: image %q means %s (the agent's default registry, %s), which is not on this node, and Podman has another local image it calls %q (e.g. localhost/%s); not pulling over it: write the full name in the job (image = \"localhost/%s\"), or set the agent's podman { default_registry = \"localhost\" } (or \"none\" for Podman's own short-name rules)",
		ErrImageNotFound, written, image, d.opts.DefaultRegistry, written, written, written)
}
