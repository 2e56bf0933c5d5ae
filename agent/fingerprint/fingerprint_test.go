package fingerprint

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/fake"
)

func addrs(ips ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		var out []net.Addr
		for _, s := range ips {
			out = append(out, &net.IPNet{IP: net.ParseIP(s), Mask: net.CIDRMask(24, 32)})
		}
		return out, nil
	}
}

func TestFingerprintTrees(t *testing.T) {
	tests := []struct {
		root       string
		addrs      []string
		want       map[string]string
		cpu, memMB int
	}{
		{
			root:  "testdata/pi4",
			addrs: []string{"127.0.0.1", "169.254.3.4", "fe80::1", "10.1.2.3", "10.9.9.9"},
			want: map[string]string{
				"kernel.name": "linux", "kernel.version": "6.1.21-v8+", "os.name": "debian", "os.version": "12",
				"cpu.numcores": "4", "cpu.frequency": "1800", "cpu.totalcompute": "7200",
				"memory.totalbytes": strconv.Itoa(3930700 * 1024), "unique.hostname": "pi-kitchen",
				"unique.network.ip-address": "10.1.2.3", "board.model": "Raspberry Pi 4 Model B Rev 1.4",
				"tether.version": "test", "cpu.arch": runtime.GOARCH,
				"cpu.modelname": "Cortex-A72", "cpu.features": "asimd,crc32,fp", "board.temperature": "48.3",
			},
			cpu: 7200, memMB: 3838,
		},
		{
			root:  "testdata/pizero",
			addrs: []string{"192.168.1.7"},
			want: map[string]string{
				"board.model": "Raspberry Pi Zero W Rev 1.1", "cpu.modelname": "ARM1176", "cpu.features": "edsp,vfp",
				"board.temperature": "-4.3", "memory.totalbytes": strconv.Itoa(439816 * 1024), "cpu.numcores": "1",
				"cpu.frequency": "1000", "unique.hostname": "pi-zero-7",
			},
			cpu: 1000, memMB: 429,
		},
		{
			root:  "testdata/x86",
			addrs: []string{"127.0.0.1"},
			want: map[string]string{
				"os.name": "ubuntu", "os.version": "22.04", "cpu.numcores": "2", "cpu.frequency": "2400",
				"cpu.totalcompute": "4800", "board.model": "NUC7i5BNH", "unique.network.ip-address": "127.0.0.1",
				"unique.hostname": "gw-1", "cpu.modelname": "Intel(R) Core(TM) i5-7260U CPU @ 2.20GHz",
				"cpu.features": "aes_ni,avx,avx2,bmi2,popcnt,sse4_2",
			},
			cpu: 4800, memMB: 7859,
		},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			fp := Fingerprinter{Root: tt.root, Version: "test", Addrs: addrs(tt.addrs...)}
			res := fp.Run(context.Background(), nil)
			for k, v := range tt.want {
				if got := res.Attributes[k]; got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if res.Resources.CPU != tt.cpu || res.Resources.MemoryMB != tt.memMB {
				t.Errorf("resources %+v, want cpu %d mem %d", res.Resources, tt.cpu, tt.memMB)
			}
		})
	}
}

func TestFingerprintFallbacks(t *testing.T) {
	fp := Fingerprinter{Root: t.TempDir(), Addrs: func() ([]net.Addr, error) { return nil, errors.New("no") }}
	res := fp.Run(context.Background(), nil)
	if res.Attributes["cpu.frequency"] != "1000" {
		t.Errorf("frequency fallback: %q", res.Attributes["cpu.frequency"])
	}
	if res.Attributes["cpu.numcores"] != strconv.Itoa(runtime.NumCPU()) {
		t.Errorf("cores fallback: %q", res.Attributes["cpu.numcores"])
	}
	if res.Attributes["unique.network.ip-address"] != "127.0.0.1" {
		t.Errorf("ip fallback: %q", res.Attributes["unique.network.ip-address"])
	}
	if _, ok := res.Attributes["board.temperature"]; ok {
		t.Errorf("temperature without a thermal zone: %q", res.Attributes["board.temperature"])
	}
	if res.Attributes["kernel.name"] != runtime.GOOS {
		t.Errorf("kernel.name fallback: %q", res.Attributes["kernel.name"])
	}
}

func TestFingerprintDrivers(t *testing.T) {
	good := fake.NewNamed("good")
	good.SetDetect(map[string]string{"driver.good.version": "1.2"}, nil)
	bad := fake.NewNamed("bad")
	bad.SetDetect(nil, drivers.ErrUnavailable)
	res := Fingerprinter{Root: "testdata/pi4", Addrs: addrs()}.Run(context.Background(), []drivers.Driver{bad, good})
	if len(res.Drivers) != 1 || res.Drivers[0] != "good" {
		t.Fatalf("drivers %v", res.Drivers)
	}
	if res.Attributes["driver.good"] != "1" || res.Attributes["driver.good.version"] != "1.2" {
		t.Fatalf("attrs %v", res.Attributes)
	}
	if _, ok := res.Attributes["driver.bad"]; ok {
		t.Fatal("unhealthy driver in attributes")
	}
}

func TestTemperature(t *testing.T) {
	tests := []struct {
		name  string
		zones map[string][2]string // zone dir → type, temp
		want  int
		ok    bool
	}{
		{"none", nil, 0, false},
		{"one untyped", map[string][2]string{"thermal_zone0": {"", "51234"}}, 512, true},
		{"soc preferred", map[string][2]string{"thermal_zone0": {"acpitz", "27800"}, "thermal_zone1": {"x86_pkg_temp", "61049"}}, 610, true},
		{"negative", map[string][2]string{"thermal_zone0": {"cpu-thermal", "-951"}}, -10, true},
		{"garbage", map[string][2]string{"thermal_zone0": {"cpu-thermal", "hot"}}, 0, false},
		{"absurd", map[string][2]string{"thermal_zone0": {"cpu-thermal", "999999"}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for z, v := range tt.zones {
				dir := filepath.Join(root, "sys/class/thermal", z)
				os.MkdirAll(dir, 0o755)
				if v[0] != "" {
					os.WriteFile(filepath.Join(dir, "type"), []byte(v[0]+"\n"), 0o644)
				}
				os.WriteFile(filepath.Join(dir, "temp"), []byte(v[1]+"\n"), 0o644)
			}
			got, ok := Fingerprinter{Root: root}.Temperature()
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %d %v, want %d %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCPUDetailsTable(t *testing.T) {
	tests := []struct{ cpuinfo, model, features string }{
		{"", "", ""},
		{"CPU part\t: 0xc07\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm\n", "Cortex-A7", "edsp,idiva,idivt,lpae,neon,vfp,vfpv3,vfpv4"},
		{"CPU part\t: 0xd0b\nFeatures\t: fp asimd aes pmull sha1 sha2 crc32 atomics asimddp lrcpc\n", "Cortex-A76", "aes,asimd,asimddp,atomics,crc32,fp,lrcpc,pmull,sha1,sha2"},
		{"CPU part\t: 0x999\n", "", ""},
	}
	for _, tt := range tests {
		m, f := cpuDetails(tt.cpuinfo)
		if m != tt.model || f != tt.features {
			t.Errorf("%q: %q %q, want %q %q", tt.cpuinfo, m, f, tt.model, tt.features)
		}
	}
}
