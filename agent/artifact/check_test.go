package artifact

import (
	"errors"
	"strings"
	"testing"
)

const sum = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

var checkCases = []struct {
	name  string
	a     Artifact
	field string // "" : accepted
	want  string
}{
	{"https", Artifact{Source: "https://example.com/app.wasm", Checksum: sum}, "", ""},
	{"file", Artifact{Source: "file:///opt/apps/app.wasm"}, "", ""},
	{"interpolated", Artifact{Source: "https://example.com/app_${attr.kernel.name}_${attr.cpu.arch}", Destination: "${NOMAD_TASK_DIR}/bin"}, "", ""},
	{"shared dir", Artifact{Source: "https://example.com/model.bin", Destination: "../alloc/data/"}, "", ""},
	{"mode file", Artifact{Source: "https://example.com/dl?id=3", Destination: "local/app", Mode: ModeFile}, "", ""},
	{"git", Artifact{Source: "git::https://github.com/org/repo"}, "source", `uses go-getter's "git::" getter, which the agent does not have; git sources are not supported: download a release file over https with a checksum`},
	{"git interpolated", Artifact{Source: "git::https://github.com/org/${meta.repo}"}, "source", `"git::" getter`},
	{"github shorthand", Artifact{Source: "github.com/hashicorp/example"}, "source", `is go-getter shorthand, not a URL; git sources are not supported`},
	{"s3", Artifact{Source: "s3::https://s3.amazonaws.com/bucket/app"}, "source", `S3 sources are not supported: use the object's https:// URL`},
	{"gcs", Artifact{Source: "gcs::https://www.googleapis.com/storage/v1/bucket/app"}, "source", `GCS sources are not supported`},
	{"hg", Artifact{Source: "hg::https://example.com/repo"}, "source", `Mercurial sources are not supported`},
	{"ftp", Artifact{Source: "ftp://example.com/app"}, "source", `has scheme "ftp": the agent downloads only http, https and file sources`},
	{"ftp interpolated", Artifact{Source: "ftp://${meta.host}/app"}, "source", `has scheme "ftp"`},
	{"checksum in the query", Artifact{Source: "https://example.com/app?checksum=sha256:abc"}, "source", `has the go-getter option "checksum" in its query, which the agent does not read; write the checksum in the artifact block`},
	{"archive in the query", Artifact{Source: "https://example.com/app.tgz?archive=false"}, "source", `"archive"`},
	{"no scheme", Artifact{Source: "example.com/app"}, "source", `has no scheme`},
	{"file with host", Artifact{Source: "file://server/app"}, "source", `names a host`},
	{"md5", Artifact{Source: "https://example.com/app", Checksum: "md5:abc"}, "checksum", `algorithm "md5" is not supported`},
	{"short digest", Artifact{Source: "https://example.com/app", Checksum: "sha256:abc"}, "checksum", `64 hex digits`},
	{"escape", Artifact{Source: "https://example.com/app", Destination: "../../etc"}, "destination", `destination escapes the task dir`},
	{"other task", Artifact{Source: "https://example.com/app", Destination: "../web/local/"}, "destination", `contains ".."`},
	{"absolute", Artifact{Source: "https://example.com/app", Destination: "/etc/"}, "destination", `is absolute`},
	{"mode file without a name", Artifact{Source: "https://example.com/app", Destination: "local/", Mode: ModeFile}, "destination", `needs a destination file name`},
	{"no file name", Artifact{Source: "https://example.com/"}, "destination", `set mode = "file"`},
	{"bad mode", Artifact{Source: "https://example.com/app", Mode: "dir"}, "mode", `unknown mode "dir"`},
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.a)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CheckError", err)
			}
			if ce.Field != tc.field || !strings.Contains(ce.Error(), tc.want) {
				t.Fatalf("err = %q (field %s), want field %s and %q", ce.Error(), ce.Field, tc.field, tc.want)
			}
		})
	}
}

// TestCheckMatchesFetch runs the table through the fetcher's own first
// steps (parseSource, parseChecksum, sharedDest and destPath, as Fetch
// calls them): what Check refuses the agent refuses with the same words,
// and what it accepts the agent accepts.
func TestCheckMatchesFetch(t *testing.T) {
	for _, tc := range checkCases {
		if strings.Contains(tc.a.Source+tc.a.Destination, "${") {
			continue // interpolated on the node first
		}
		t.Run(tc.name, func(t *testing.T) {
			agent := fetchSteps(tc.a)
			central := Check(tc.a)
			if (agent == nil) != (central == nil) {
				t.Fatalf("agent: %v\ncentral: %v", agent, central)
			}
			if central != nil {
				var ce *CheckError
				errors.As(central, &ce)
				key := ce.Msg
				if i := strings.Index(key, ": "); ce.Field != "source" && i >= 0 {
					key = key[i+2:]
				}
				if ce.Field == "source" {
					key = strings.TrimPrefix(key, "artifact source "+quote(tc.a.Source)+" ")
				}
				if !strings.Contains(agent.Error(), key) {
					t.Fatalf("agent: %v\ncentral: %v", agent, central)
				}
			}
		})
	}
}

// fetchSteps is what Fetch checks before it touches the disk or the
// network, in its order.
func fetchSteps(a Artifact) error {
	src, err := parseSource(a.Source)
	if err != nil {
		return err
	}
	if _, err := parseChecksum(a.Checksum); err != nil {
		return err
	}
	taskDir := "/alloc/task"
	if a.Destination == "" {
		a.Destination = "local/"
	}
	if rest, ok := sharedDest(a.Destination); ok {
		taskDir, a.Destination = "/alloc/alloc", rest
	}
	_, err = destPath(taskDir, a, src)
	return err
}

func quote(s string) string { return `"` + s + `"` }
