package fingerprint

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// interestingFeatures are the /proc/cpuinfo flags reported in
// cpu.features: what jobs constrain on (SIMD, crypto, atomics, division),
// not the full list (a few hundred bytes on x86).
var interestingFeatures = map[string]bool{
	// 32-bit ARM
	"vfp": true, "vfpv3": true, "vfpv4": true, "neon": true, "idiva": true, "idivt": true, "lpae": true, "edsp": true,
	// arm64
	"fp": true, "asimd": true, "aes": true, "pmull": true, "sha1": true, "sha2": true, "sha512": true, "crc32": true,
	"atomics": true, "asimddp": true, "sve": true, "lrcpc": true,
	// x86-64
	"sse4_2": true, "avx": true, "avx2": true, "avx512f": true, "aes_ni": true, "sha_ni": true, "popcnt": true, "bmi2": true,
}

// armParts names ARM's CPU part numbers (the "CPU part" line).
var armParts = map[string]string{
	"0xb76": "ARM1176", "0xc07": "Cortex-A7", "0xc08": "Cortex-A8", "0xc09": "Cortex-A9", "0xc0f": "Cortex-A15",
	"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
	"0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
}

// cpuDetails returns cpu.model and cpu.features from /proc/cpuinfo.
func cpuDetails(cpuinfo string) (model, features string) {
	var part string
	set := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	sc.Buffer(make([]byte, 0, 4096), 1<<20) // x86 flags lines are long
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			if model == "" {
				model = v
			}
		case "CPU part":
			if part == "" {
				part = v
			}
		case "flags", "Features":
			for _, f := range strings.Fields(v) {
				if f == "aes" && k == "flags" {
					f = "aes_ni"
				}
				if interestingFeatures[f] {
					set[f] = true
				}
			}
		}
	}
	if n, ok := armParts[part]; ok && (model == "" || strings.HasPrefix(model, "ARMv")) {
		model = n
	}
	list := make([]string, 0, len(set))
	for f := range set {
		list = append(list, f)
	}
	sort.Strings(list)
	return model, strings.Join(list, ",")
}

// socZones are thermal zone types that measure the SoC or CPU package, in
// order of preference; any zone is used when none of them is found.
var socZones = []string{"cpu-thermal", "soc-thermal", "x86_pkg_temp", "cpu_thermal", "soc_thermal"}

// Temperature reads the SoC temperature in tenths of a degree Celsius from
// sys/class/thermal. ok is false where the board exposes none (VMs, most
// containers).
func (f Fingerprinter) Temperature() (deciC int, ok bool) {
	root := f.Root
	if root == "" {
		root = "/"
	}
	zones, _ := filepath.Glob(filepath.Join(root, "sys/class/thermal/thermal_zone*"))
	sort.Strings(zones)
	best, rank := "", len(socZones)+1
	for _, z := range zones {
		if _, err := os.Stat(filepath.Join(z, "temp")); err != nil {
			continue
		}
		typ := strings.TrimSpace(readFile(filepath.Join(z, "type")))
		r := len(socZones)
		for i, s := range socZones {
			if typ == s {
				r = i
			}
		}
		if r < rank {
			best, rank = z, r
		}
	}
	if best == "" {
		return 0, false
	}
	milli, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(best, "temp"))))
	if err != nil || milli < -100000 || milli > 200000 { // sensors report nonsense when broken
		return 0, false
	}
	// Round to the nearest tenth, away from zero.
	if milli < 0 {
		return (milli - 50) / 100, true
	}
	return (milli + 50) / 100, true
}

// FormatDeciC renders tenths of a degree as "48.3".
func FormatDeciC(d int) string {
	return strconv.FormatFloat(float64(d)/10, 'f', 1, 64)
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}
