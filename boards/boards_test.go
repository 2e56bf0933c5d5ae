package boards_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/boards"
)

var wantBoards = map[string]boards.Target{
	"rpi-zero":      {GOOS: "linux", GOARCH: "arm", GOARM: "6"},
	"rpi3":          {GOOS: "linux", GOARCH: "arm", GOARM: "7"},
	"rpi4":          {GOOS: "linux", GOARCH: "arm64"},
	"rpi5":          {GOOS: "linux", GOARCH: "arm64"},
	"arm64-gateway": {GOOS: "linux", GOARCH: "arm64"},
	"x86-gateway":   {GOOS: "linux", GOARCH: "amd64"},
}

func TestEveryBoardLoadsWithItsTarget(t *testing.T) {
	names := boards.Names()
	if len(names) != len(wantBoards) {
		t.Fatalf("boards %v, want %d of them", names, len(wantBoards))
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			b, err := boards.Load(n)
			if err != nil {
				t.Fatal(err)
			}
			if b.Target != wantBoards[n] {
				t.Errorf("target %+v, want %+v", b.Target, wantBoards[n])
			}
			if (b.Target.GOARCH == "arm") != (b.WasmEngine == "interpreter") {
				t.Errorf("wasm engine %s on %s", b.WasmEngine, b.Target.GOARCH)
			}
			unit := string(b.Unit)
			for _, want := range []string{"Restart=always", "KillMode=process", "Delegate=yes", "ExecStart=/usr/local/lib/tether-agent/agent -config /etc/tether/agent.hcl", "WantedBy=multi-user.target",
				"\nReadWritePaths=/usr/local/lib/tether-agent\n"} { // the agent upgrades its binary in place (docs/upgrades.md)
				if !strings.Contains(unit, want) {
					t.Errorf("unit lacks %q", want)
				}
			}
			// Only the agent's own directory is writable under /usr: exec
			// tasks inherit the sandbox, and must not replace the tools in
			// /usr/local/bin.
			if n := strings.Count(unit, "ReadWritePaths="); n != 1 {
				t.Errorf("unit has %d ReadWritePaths lines, want only the agent's directory", n)
			}
			// Options that would break drivers or tasks (devices, cgroups, setuid).
			for _, bad := range []string{"PrivateDevices", "DevicePolicy", "ProtectControlGroups", "NoNewPrivileges", "ProtectClock", "RestrictAddressFamilies", "ProtectSystem=strict"} {
				if strings.Contains(unit, bad) {
					t.Errorf("unit sets %s, which breaks a driver or tasks", bad)
				}
			}
			if !strings.Contains(string(b.README), "# Board `"+n+"`") {
				t.Errorf("README does not name the board")
			}
		})
	}
}

func TestRenderedConfigParsesWithAgentConfig(t *testing.T) {
	for _, n := range boards.Names() {
		t.Run(n, func(t *testing.T) {
			b, err := boards.Load(n)
			if err != nil {
				t.Fatal(err)
			}
			out, err := b.RenderConfig(boards.ConfigParams{
				Name: "pi-07", Datacenter: "dc2", Brokers: []string{"tcp://site:1883", "tcp://backup:1883"},
				JoinTokenFile: `/etc/te"ther\join-token`, DataDir: "/var/lib/tether-agent",
				Central: "https://central.example:7600", CAFile: "/etc/tether/ca.pem",
				Meta: map[string]string{"rack": "r1", "owner.name": "a\tb\nc"},
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			if err := config.ParseFile("agent.hcl", out, &cfg); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if cfg.Central != "https://central.example:7600" || cfg.TLS.CAFile != "/etc/tether/ca.pem" {
				t.Fatalf("central %q, tls ca_file %q from\n%s", cfg.Central, cfg.TLS.CAFile, out)
			}
			cfg.TLS.CAFile = "" // on the device: Validate would read it here
			if err := cfg.Validate(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			hb, _ := time.ParseDuration(b.Heartbeat)
			if cfg.Name != "pi-07" || cfg.Datacenter != "dc2" || cfg.JoinTokenFile != `/etc/te"ther\join-token` || cfg.JoinToken != "" || cfg.Heartbeat != hb ||
				strings.Join(cfg.Brokers, " ") != "tcp://site:1883 tcp://backup:1883" || cfg.DataDir != "/var/lib/tether-agent" {
				t.Fatalf("parsed %+v from\n%s", cfg, out)
			}
			if cfg.Meta["board"] != n || cfg.Meta["rack"] != "r1" || cfg.Meta["owner.name"] != "a\tb\nc" {
				t.Fatalf("meta %v", cfg.Meta)
			}
			// The board's reserved share takes effect: the scheduler subtracts it.
			if cfg.Reserved.CPU != b.Reserved.CPUMHz || cfg.Reserved.MemoryMB != b.Reserved.MemoryMB || cfg.Reserved.MemoryMB == 0 {
				t.Fatalf("reserved %+v, board %+v", cfg.Reserved, b.Reserved)
			}
		})
	}
}

func TestLoadUnknown(t *testing.T) {
	for _, n := range []string{"", "rpi9", "../boards", "rpi4/board.json"} {
		_, err := boards.Load(n)
		if !errors.Is(err, boards.ErrUnknownBoard) || !strings.Contains(err.Error(), "known: arm64-gateway, rpi-zero") {
			t.Errorf("Load(%q) = %v", n, err)
		}
	}
}

func TestTargetSuffix(t *testing.T) {
	tests := []struct {
		t    boards.Target
		want string
	}{
		{boards.Target{GOOS: "linux", GOARCH: "arm", GOARM: "6"}, "linux-armv6"},
		{boards.Target{GOOS: "linux", GOARCH: "arm64"}, "linux-arm64"},
		{boards.Target{GOOS: "linux", GOARCH: "amd64"}, "linux-amd64"},
	}
	for _, tt := range tests {
		if got := tt.t.Suffix(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a", `"a"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"x\ny\tz\r", `"x\ny\tz\r"`},
		{"ü", `"ü"`},
	}
	for _, tt := range tests {
		if got := boards.Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
