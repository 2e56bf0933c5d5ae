package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFile(t *testing.T) {
	src := `# agent config
name = "pi-kitchen"   // trailing comment
datacenter = "dc2"
brokers = [
  "tcp://127.0.0.1:1883",
  "tcp://127.0.0.1:1884", # second
]
/* block
   comment */
data_dir = "/tmp/x"
join_token = "tok\"en"
central = "http://10.0.0.1:7600"
heartbeat = "2s"
log_level = "debug"
meta {
  rack = "r1"
  "k.x" = "v"
}
`
	cfg := Default()
	if err := ParseFile("agent.hcl", []byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "pi-kitchen" || cfg.Datacenter != "dc2" || cfg.DataDir != "/tmp/x" || cfg.JoinToken != `tok"en` ||
		cfg.Heartbeat != 2*time.Second || cfg.LogLevel != "debug" {
		t.Fatalf("scalars: %+v", cfg)
	}
	if strings.Join(cfg.Brokers, ",") != "tcp://127.0.0.1:1883,tcp://127.0.0.1:1884" {
		t.Fatalf("brokers: %v", cfg.Brokers)
	}
	if cfg.Meta["rack"] != "r1" || cfg.Meta["k.x"] != "v" || len(cfg.Meta) != 2 {
		t.Fatalf("meta: %v", cfg.Meta)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseFileForms(t *testing.T) {
	cfg := Default()
	if err := ParseFile("a.hcl", []byte("heartbeat = 3\nmeta = { a = \"1\", b = \"2\" }"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Heartbeat != 3*time.Second || cfg.Meta["a"] != "1" || cfg.Meta["b"] != "2" {
		t.Fatalf("got %+v", cfg)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown key", "name = \"a\"\n\ndatacentre = \"dc1\"\n", `a.hcl:3: unknown key "datacentre" (known: name, datacenter`},
		{"unquoted", "name = pi\n", `a.hcl:1: expected a value ("string", number, [list] or { block }), got identifier pi`},
		{"number for string", "name = 5\n", `a.hcl:1: name must be a quoted string, got a number`},
		{"missing eq", "name \"a\"\n", `a.hcl:1: expected '=' after name`},
		{"dup", "name = \"a\"\nname = \"b\"\n", `a.hcl:2: name is set twice (first on line 1)`},
		{"open string", "name = \"a\n", `a.hcl:1: string is not closed`},
		{"open comment", "\n/* x\n", `a.hcl:2: comment /* is never closed`},
		{"bad list", "brokers = [\"a\" \"b\"]\n", `a.hcl:1: expected ',' or ']' in list`},
		{"list of numbers", "brokers = [1]\n", `a.hcl:1: list elements must be quoted strings`},
		{"brokers not list", "brokers = \"tcp://x:1\"\n", `a.hcl:1: brokers must be a list of broker URLs`},
		{"bad duration", "\n\nheartbeat = \"5 s\"\n", `a.hcl:3: heartbeat "5 s" is not a duration`},
		{"two on a line", "name = \"a\" datacenter = \"b\"\n", `a.hcl:1: expected end of line after name`},
		{"bad char", "name = 'a'\n", `a.hcl:1: unexpected character '\''`},
		{"bad escape", "name = \"\\q\"\n", `a.hcl:1: unknown escape \q`},
		{"meta dup", "meta {\n a = \"1\"\n a = \"2\"\n}\n", `a.hcl:3: key "a" is set twice in the block`},
		{"meta unclosed", "meta {\n a = \"1\"\n", `a.hcl:3: expected a key or '}' in block, got end of file`},
		{"no value", "name =\n", `a.hcl:1: expected a value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			err := ParseFile("a.hcl", []byte(tt.src), &cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"empty name", func(c *Config) { c.Name = "" }, "name is empty"},
		{"slash in name", func(c *Config) { c.Name = "a/b" }, `name "a/b" cannot be used in a topic`},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers is empty"},
		{"bad scheme", func(c *Config) { c.Brokers = []string{"http://x:1"} }, `scheme "http" not supported`},
		{"no host", func(c *Config) { c.Brokers = []string{"tcp://"} }, "has no host"},
		{"heartbeat", func(c *Config) { c.Heartbeat = 0 }, "heartbeat 0s out of range"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, `log_level "loud" unknown`},
		{"prefix", func(c *Config) { c.TopicPrefix = "a/#" }, "topic_prefix"},
		{"data dir", func(c *Config) { c.DataDir = "" }, "data_dir is empty"},
		{"join token without central", func(c *Config) { c.JoinToken = "t" }, "a join token needs central's HTTP address to enrol at: set central = "},
		{"join token file without central", func(c *Config) { c.JoinTokenFile = "/etc/tether/join-token" }, "a join token needs central's HTTP address"},
		{"join token and central", func(c *Config) { c.JoinToken, c.Central = "t", "https://central:7600" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Name = "n1"
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(file, []byte("name = \"from-file\"\ndatacenter = \"dcf\"\nbrokers = [\"tcp://127.0.0.1:1\"]\nmeta { a = \"1\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	err := fs.Parse([]string{"-config", file, "-name", "from-flag", "-broker", "tcp://127.0.0.1:2", "-broker", "tcp://127.0.0.1:3", "-meta", "b=2", "-heartbeat", "1s"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-flag" || cfg.Datacenter != "dcf" || cfg.Heartbeat != time.Second {
		t.Fatalf("got %+v", cfg)
	}
	if strings.Join(cfg.Brokers, ",") != "tcp://127.0.0.1:2,tcp://127.0.0.1:3" {
		t.Fatalf("brokers %v", cfg.Brokers)
	}
	if cfg.Meta["a"] != "1" || cfg.Meta["b"] != "2" {
		t.Fatalf("meta %v", cfg.Meta)
	}
}

func TestFlagsBadMeta(t *testing.T) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	f := RegisterFlags(fs)
	if err := fs.Parse([]string{"-name", "n", "-meta", "novalue"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); err == nil || !strings.Contains(err.Error(), "-meta key=value") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadFileMissing(t *testing.T) {
	cfg := Default()
	err := LoadFile(filepath.Join(t.TempDir(), "nope.hcl"), &cfg)
	if err == nil || !strings.Contains(err.Error(), "check the -config path") {
		t.Fatalf("got %v", err)
	}
}

// FuzzConfig checks that no config file makes the parser panic, and that a
// parse that succeeds leaves the config in a state Validate can judge.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("name = \"a\"\nbrokers = [\"tcp://h:1\"]\nmeta { a = \"b\" }\n"))
	f.Add([]byte("/* x */ heartbeat = 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		if err := ParseFile("f.hcl", data, &cfg); err != nil {
			if !strings.HasPrefix(err.Error(), "f.hcl:") {
				t.Fatalf("error without file:line: %v", err)
			}
			return
		}
		_ = cfg.Validate()
	})
}
