package fingerprint

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/protocol"
)

// DefaultMHz is the CPU frequency assumed when none can be read.
const DefaultMHz = 1000

// Fingerprinter reads the node's attributes. The zero value reads the real
// machine ("/"), with the real network interfaces.
type Fingerprinter struct {
	Root    string // "" or "/" for the real machine
	Version string // agent build version, reported as tether.version
	// Addrs lists the node's interface addresses; nil uses net.InterfaceAddrs.
	Addrs  func() ([]net.Addr, error)
	Logger *slog.Logger
}

// Result is a fingerprint.
type Result struct {
	Attributes map[string]string
	Drivers    []string // healthy drivers, sorted
	Resources  protocol.Resources
}

// Run fingerprints the node and asks each driver whether it can run here.
func (f Fingerprinter) Run(ctx context.Context, ds []drivers.Driver) Result {
	a := map[string]string{}
	a["kernel.name"] = firstNonEmpty(strings.ToLower(f.readTrim("proc/sys/kernel/ostype")), runtime.GOOS)
	if v := f.readTrim("proc/sys/kernel/osrelease"); v != "" {
		a["kernel.version"] = v
	}
	osr := parseOSRelease(f.read("etc/os-release"))
	if v := firstNonEmpty(osr["ID"], osr["NAME"]); v != "" {
		a["os.name"] = v
	}
	if v := osr["VERSION_ID"]; v != "" {
		a["os.version"] = v
	}
	a["cpu.arch"] = runtime.GOARCH
	if v := goarm(); v != "" {
		a["cpu.arm_version"] = v
	}
	cpuinfo := f.read("proc/cpuinfo")
	cores := countProcessors(cpuinfo)
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	mhz := cpuMHz(cpuinfo)
	if mhz == 0 {
		if khz, err := strconv.Atoi(f.readTrim("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")); err == nil && khz > 0 {
			mhz = khz / 1000
		}
	}
	if mhz == 0 {
		mhz = DefaultMHz
	}
	if model, feats := cpuDetails(cpuinfo); model != "" || feats != "" {
		if model != "" {
			a["cpu.modelname"] = model
		}
		if feats != "" {
			a["cpu.features"] = feats
		}
	}
	a["cpu.numcores"] = strconv.Itoa(cores)
	a["cpu.frequency"] = strconv.Itoa(mhz)
	a["cpu.totalcompute"] = strconv.Itoa(cores * mhz)
	mem := memTotalBytes(f.read("proc/meminfo"))
	if mem > 0 {
		a["memory.totalbytes"] = strconv.FormatUint(mem, 10)
	}
	host := f.readTrim("proc/sys/kernel/hostname")
	if host == "" {
		host, _ = os.Hostname()
	}
	if host != "" {
		a["unique.hostname"] = host
	}
	a["unique.network.ip-address"] = f.ipAddress()
	if v := strings.TrimRight(f.readTrim("proc/device-tree/model"), "\x00"); v != "" {
		a["board.model"] = v
	} else if v := f.readTrim("sys/class/dmi/id/product_name"); v != "" {
		a["board.model"] = v
	} else if v := cpuinfoModel(cpuinfo); v != "" {
		a["board.model"] = v // Raspberry Pi kernels also print it here
	}
	if t, ok := f.Temperature(); ok {
		a["board.temperature"] = FormatDeciC(t)
	}
	if f.Version != "" {
		a["tether.version"] = f.Version
	}

	var healthy []string
	for _, d := range ds {
		attrs, err := d.Detect(ctx)
		if err != nil {
			f.logger().Info("driver unavailable", "driver", d.Name(), "err", err)
			continue
		}
		healthy = append(healthy, d.Name())
		for k, v := range attrs {
			a[k] = v
		}
		a["driver."+d.Name()] = "1"
	}
	sort.Strings(healthy)
	return Result{
		Attributes: a,
		Drivers:    healthy,
		Resources: protocol.Resources{
			CPU:      cores * mhz,
			MemoryMB: int(mem / (1 << 20)),
			Cores:    cores,
		},
	}
}

func (f Fingerprinter) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

func (f Fingerprinter) read(rel string) string {
	root := f.Root
	if root == "" {
		root = "/"
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return ""
	}
	return string(b)
}

func (f Fingerprinter) readTrim(rel string) string { return strings.TrimSpace(f.read(rel)) }

// ipAddress is the first non-loopback IPv4 address, else 127.0.0.1.
func (f Fingerprinter) ipAddress() string {
	addrs := f.Addrs
	if addrs == nil {
		addrs = net.InterfaceAddrs
	}
	list, err := addrs()
	if err == nil {
		for _, a := range list {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			}
			if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
				return ip4.String()
			}
		}
	}
	return "127.0.0.1"
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// goarm is the GOARM the binary was built with ("6", "7"), or "".
func goarm() string {
	if runtime.GOARCH != "arm" {
		return ""
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOARM" {
				return strings.SplitN(s.Value, ",", 2)[0]
			}
		}
	}
	return ""
}

func parseOSRelease(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		m[k] = strings.Trim(v, `"'`)
	}
	return m
}

func countProcessors(cpuinfo string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		if k, _, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	return n
}

func cpuMHz(cpuinfo string) int {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil && f > 0 {
				return int(f + 0.5)
			}
		}
	}
	return 0
}

func memTotalBytes(meminfo string) uint64 {
	sc := bufio.NewScanner(strings.NewReader(meminfo))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// cpuinfoModel is the "Model" line Raspberry Pi kernels add to /proc/cpuinfo.
func cpuinfoModel(cpuinfo string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "Model" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
