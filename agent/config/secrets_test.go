package config

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadWith parses args (and a config file with body conf, if not empty)
// with env as the environment. Central's address is given, as a join
// token needs it.
func loadWith(t *testing.T, conf string, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	if conf != "" {
		p := filepath.Join(t.TempDir(), "agent.hcl")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"-config", p}, args...)
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs)
	if err := fs.Parse(append([]string{"-name", "n1", "-central", "http://127.0.0.1:7600"}, args...)); err != nil {
		t.Fatal(err)
	}
	return f.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func tokenFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "join-token")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// The join token can come from a file or the environment, so it need not
// be on the command line, where every user of the machine sees it in ps.
func TestJoinTokenSources(t *testing.T) {
	file := tokenFile(t, "tok-from-file\n", 0o600)
	other := tokenFile(t, "  tok-other  \n", 0o400)
	env := map[string]string{EnvJoinToken: "tok-from-env"}
	for _, tc := range []struct {
		name     string
		conf     string
		env      map[string]string
		args     []string
		want     string
		wantFile string
	}{
		{"config file key", "join_token_file = " + quote(file) + "\n", nil, nil, "tok-from-file", file},
		{"flag", "", nil, []string{"-join-token-file", other}, "tok-other", other},
		{"environment", "", env, nil, "tok-from-env", ""},
		{"environment over config file", "join_token_file = " + quote(file) + "\n", env, nil, "tok-from-env", ""},
		{"flag over environment", "", env, []string{"-join-token-file", file}, "tok-from-file", file},
		{"argv flag over file key", "join_token_file = " + quote(file) + "\n", nil, []string{"-join-token", "argv"}, "argv", ""},
		{"file flag over token key", "join_token = \"in-config\"\n", nil, []string{"-join-token-file", file}, "tok-from-file", file},
		{"empty environment ignored", "join_token = \"in-config\"\n", map[string]string{EnvJoinToken: ""}, nil, "in-config", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadWith(t, tc.conf, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.JoinToken != tc.want || cfg.JoinTokenFile != tc.wantFile {
				t.Errorf("token %q from file %q, want %q from %q", cfg.JoinToken, cfg.JoinTokenFile, tc.want, tc.wantFile)
			}
		})
	}
}

func TestJoinTokenFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		conf string
		args []string
		want string
	}{
		{"both keys", "join_token = \"a\"\njoin_token_file = \"/x\"\n", nil, "agent.hcl:2: join_token and join_token_file are both set (lines 1 and 2): keep one"},
		{"both flags", "", []string{"-join-token", "a", "-join-token-file", "/x"}, "-join-token and -join-token-file are both given"},
		{"missing", "", []string{"-join-token-file", filepath.Join(dir, "nope")}, "join_token_file: open " + filepath.Join(dir, "nope")},
		{"world-readable", "", []string{"-join-token-file", tokenFile(t, "tok", 0o644)}, "is readable by every user (mode 0644): chmod 600"},
		{"empty", "", []string{"-join-token-file", tokenFile(t, " \n", 0o600)}, "is empty"},
		{"two words", "", []string{"-join-token-file", tokenFile(t, "a b\n", 0o600)}, "holds more than one word"},
		{"too large", "", []string{"-join-token-file", tokenFile(t, strings.Repeat("a", MaxJoinTokenFileSize+1), 0o600)}, "larger than 4096 bytes"},
		{"directory", "", []string{"-join-token-file", dir}, "is not a regular file"},
		{"central not http", "", []string{"-join-token", "a", "-central", "tcp://c:7600"}, `central "tcp://c:7600": scheme "tcp" not supported (use http or https)`},
		{"central without host", "", []string{"-central", "http://"}, `central "http://" has no host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWith(t, tc.conf, nil, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestArtifactKeys(t *testing.T) {
	cfg, err := loadWith(t, `artifact_file_paths = ["/srv/artifacts", "/opt/apps"]
artifact_allow_networks = ["127.0.0.0/8", "::1", "169.254.10.1/16"]
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.ArtifactFilePaths, []string{"/srv/artifacts", "/opt/apps"}) {
		t.Errorf("artifact_file_paths = %q", cfg.ArtifactFilePaths)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("169.254.0.0/16")}
	if !reflect.DeepEqual(cfg.ArtifactAllowNetworks, want) {
		t.Errorf("artifact_allow_networks = %v, want %v", cfg.ArtifactAllowNetworks, want)
	}
	// Flags replace the file's lists.
	cfg, err = loadWith(t, `artifact_file_paths = ["/srv/artifacts"]`, nil,
		"-artifact-file-path", "/a", "-artifact-file-path", "/b", "-artifact-allow-network", "fe80::/10")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.ArtifactFilePaths, []string{"/a", "/b"}) || len(cfg.ArtifactAllowNetworks) != 1 || cfg.ArtifactAllowNetworks[0].String() != "fe80::/10" {
		t.Errorf("flags: %q %v", cfg.ArtifactFilePaths, cfg.ArtifactAllowNetworks)
	}
	// Defaults: none.
	cfg, err = loadWith(t, "", nil)
	if err != nil || cfg.ArtifactFilePaths != nil || cfg.ArtifactAllowNetworks != nil {
		t.Errorf("defaults: %q %v %v", cfg.ArtifactFilePaths, cfg.ArtifactAllowNetworks, err)
	}
	for _, tc := range []struct{ conf, want string }{
		{"\nartifact_allow_networks = [\"localhost\"]\n", `agent.hcl:2: artifact_allow_networks: "localhost" is not a network: write a CIDR prefix such as "127.0.0.0/8"`},
		{"artifact_allow_networks = \"127.0.0.0/8\"\n", `artifact_allow_networks must be a list of networks`},
		{"artifact_file_paths = [\"srv/artifacts\"]\n", `artifact_file_paths: "srv/artifacts" is not an absolute directory`},
	} {
		if _, err := loadWith(t, tc.conf, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.conf, err, tc.want)
		}
	}
}

func quote(s string) string { return `"` + s + `"` }
