// Package podmantest starts a private Podman API service for tests and
// builds a tiny local test image, so tests need no registry and leave the
// host's Podman alone.
//
//	socket := podmantest.Start(t)        // podman system service on <tmp>/podman.sock
//	image := podmantest.Image(t, socket)  // localhost/tether-test:latest (busybox)
//
// The service runs as root with its own --root, --runroot and --tmpdir, file
// locks, runc with explicit ulimits (crun fails on hosts with hybrid
// cgroups), and its own bridge network (a random 10.89.x.0/24 subnet), so
// several packages' tests can run Podman at once.
//
// Missing podman, runc or busybox-static: the test is skipped with the
// reason, or fails when CI=true.
package podmantest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// ImageName is the test image Image builds.
const ImageName = "localhost/tether-test:latest"

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// instance is one service's files, all under dir (the socket's directory),
// so every helper finds them from the socket path alone.
type instance struct {
	dir  string
	args []string // global flags: --root ... --runroot ... --tmpdir ...
	env  []string
}

func newInstance(dir string) *instance {
	return &instance{
		dir:  dir,
		args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "runroot"), "--tmpdir", filepath.Join(dir, "tmp")},
		env:  append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(dir, "containers.conf")),
	}
}

// lookup returns the instance behind a socket made by Start.
func lookup(t testing.TB, socket string) *instance {
	t.Helper()
	dir := filepath.Dir(socket)
	if _, err := os.Stat(filepath.Join(dir, "containers.conf")); err != nil {
		t.Fatalf("podmantest: %s was not started by podmantest.Start", socket)
	}
	return newInstance(dir)
}

// unavailable skips t (or fails it under CI=true) with reason.
func unavailable(t testing.TB, reason string) {
	t.Helper()
	testhost.Require(t, false, "Podman ("+reason+")", "install podman, runc and busybox-static and run as root; .ci/run does")
}

// Check skips or fails t unless podman, runc and busybox-static are
// installed and the test runs as root.
func Check(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			unavailable(t, bin+" is not installed (Debian: apt-get install podman runc busybox-static)")
		}
	}
	if _, err := os.Stat(BusyboxPath); err != nil {
		unavailable(t, BusyboxPath+" is missing (Debian: apt-get install busybox-static)")
	}
	if os.Geteuid() != 0 {
		unavailable(t, "rootful podman needs root (these tests use their own storage, not the user's)")
	}
}

// Start starts `podman system service` on a fresh socket and returns the
// socket's path. The service, its containers and its storage are removed
// when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	Check(t)
	// Unix socket paths are limited to 108 bytes: keep the dir short.
	dir, err := os.MkdirTemp("", "podmantest")
	if err != nil {
		t.Fatal(err)
	}
	in := newInstance(dir)
	if err := writeConfig(dir); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "podman.sock")

	cmd := exec.Command("podman", append(append([]string{}, in.args...), "system", "service", "--time=0", "unix://"+socket)...)
	cmd.Env = in.env
	logf, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start podman system service: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	if err := os.WriteFile(filepath.Join(dir, "service.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.stop(t, cmd.Process, exited) })

	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("unix", socket)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "service.log"))
			t.Fatalf("podman system service exited at start: %s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman system service: socket %s not ready after 30s", socket)
		}
		time.Sleep(20 * time.Millisecond) // polling for readiness, not synchronising tests
	}
	return socket
}

// Kill kills the service behind socket (SIGKILL), as a crash would; its
// containers keep running. It returns once the service has exited.
func Kill(t testing.TB, socket string) {
	t.Helper()
	in := lookup(t, socket)
	b, err := os.ReadFile(filepath.Join(in.dir, "service.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	// Start's goroutine reaps it; then the pid is gone.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("podmantest.Kill: service %d still alive after SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling for the reap
	}
}

// Podman runs the podman CLI against the service behind socket (same
// storage) and returns its combined output.
func Podman(t testing.TB, socket string, args ...string) string {
	t.Helper()
	out, err := lookup(t, socket).podman(args...)
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (in *instance) podman(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, in.args...), args...)...)
	cmd.Env = in.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Image imports a busybox rootfs as ImageName into the service's storage
// (once per service) and returns ImageName.
func Image(t testing.TB, socket string) string {
	t.Helper()
	in := lookup(t, socket)
	if out, err := in.podman("image", "exists", ImageName); err == nil {
		return ImageName
	} else if !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("podman image exists: %v\n%s", err, out)
	}
	tarPath := filepath.Join(in.dir, "rootfs.tar")
	if err := buildRootfs(filepath.Join(in.dir, "rootfs"), tarPath); err != nil {
		t.Fatal(err)
	}
	if out, err := in.podman("import", "--change", "CMD=[\"/bin/sh\"]", tarPath, ImageName); err != nil {
		t.Fatalf("podman import: %v\n%s", err, out)
	}
	return ImageName
}

// buildRootfs makes a rootfs with busybox and a symlink per applet, and
// tars it.
func buildRootfs(root, tarPath string) error {
	for _, d := range []string{"bin", "etc", "tmp", "alloc", "local", "secrets", "www"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), b, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
		"etc/group":      "root:x:0:\nnogroup:x:65534:\n",
		"www/index.html": "hello from tether-test\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	if out, err := exec.Command("tar", "-C", root, "-cf", tarPath, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar rootfs: %v: %s", err, out)
	}
	return nil
}

// writeConfig writes containers.conf and the default network's definition.
// The network gets a name, bridge and subnet of its own: netavark names its
// firewall chains after the network's name, so two services that both used
// "podman" would tear down each other's rules.
func writeConfig(dir string) error {
	netDir := filepath.Join(dir, "networks")
	if err := os.MkdirAll(netDir, 0o755); err != nil {
		return err
	}
	var r [36]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	suffix := hex.EncodeToString(r[:4])
	name, bridge := "tether-"+suffix, "tt"+suffix
	subnet := freeSubnet(int(r[4]))
	conf := fmt.Sprintf(`[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"

[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[network]
network_config_dir = %q
default_network = %q
`, netDir, name)
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	network := fmt.Sprintf(`{"name":%q,"id":%q,"driver":"bridge","network_interface":%q,`+
		`"subnets":[{"subnet":"10.89.%d.0/24","gateway":"10.89.%d.1"}],`+
		`"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}`,
		name, hex.EncodeToString(r[4:36]), bridge, subnet, subnet)
	return os.WriteFile(filepath.Join(netDir, name+".json"), []byte(network), 0o644)
}

// freeSubnet picks x for 10.89.x.0/24, starting at a random seed and
// skipping subnets the host routes already (another service's bridge).
func freeSubnet(seed int) int {
	used := map[int]bool{}
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			d, err := strconv.ParseUint(f[1], 16, 32) // little-endian IPv4
			if err == nil && d&0xff == 10 && (d>>8)&0xff == 89 {
				used[int((d>>16)&0xff)] = true
			}
		}
	}
	for i := 0; i < 250; i++ {
		if x := 1 + (seed+i)%250; !used[x] {
			return x
		}
	}
	return 1 + seed%250
}

// stop removes every container, stops the service and deletes the storage.
func (in *instance) stop(t testing.TB, p *os.Process, exited <-chan struct{}) {
	select {
	case <-exited:
	default:
		if out, err := in.podman("rm", "--all", "--force", "--time", "0"); err != nil {
			t.Logf("podmantest: remove containers: %v\n%s", err, out)
		}
		_ = p.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = p.Kill()
			<-exited
		}
	}
	// The service may have been killed (Kill): remove what it left running.
	if out, err := in.podman("rm", "--all", "--force", "--time", "0"); err != nil {
		t.Logf("podmantest: remove containers: %v\n%s", err, out)
	}
	unmountUnder(in.dir)
	if err := os.RemoveAll(in.dir); err != nil {
		t.Logf("podmantest: remove %s: %v", in.dir, err)
	}
}

// unmountUnder lazily unmounts every mount point below dir (overlay
// storage mounts its own directory), deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}
