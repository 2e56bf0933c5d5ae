package artifact

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// CheckError is a problem Check found in one field of an artifact block.
type CheckError struct {
	Field string // "source", "checksum", "destination" or "mode"
	Msg   string // what is wrong, naming the value
	Fix   string // what to write instead
}

func (e *CheckError) Error() string { return e.Msg + "; " + e.Fix }

// Check checks an artifact block as Fetch will, without a task dir or the
// network: the source's form (only http, https and file URLs; no
// go-getter getters or options), the checksum, the destination (inside the
// task dir or the allocation's shared dir) and the mode. Central runs it
// when a job is submitted. A value with ${...} in it is interpolated on
// the node first: Check checks only what is already known, such as the
// scheme before the first ${. Whether a file:// path is allowed is the
// node's own config (artifact_file_paths), checked by Fetch.
func Check(a Artifact) error {
	var src *url.URL
	if i := strings.Index(a.Source, "${"); i >= 0 {
		if msg, fix := prefixProblem(a.Source[:i]); msg != "" {
			return &CheckError{Field: "source", Msg: fmt.Sprintf("artifact source %q %s", a.Source, msg), Fix: fix}
		}
		src = &url.URL{Path: "/artifact"} // named on the node
	} else {
		u, msg, fix := checkSource(a.Source)
		if msg != "" {
			return &CheckError{Field: "source", Msg: fmt.Sprintf("artifact source %q %s", a.Source, msg), Fix: fix}
		}
		src = u
	}
	if !strings.Contains(a.Checksum, "${") {
		if _, err := parseChecksum(a.Checksum); err != nil {
			return &CheckError{Field: "checksum", Msg: "artifact " + strings.TrimPrefix(err.Error(), "artifact: bad "),
				Fix: `write checksum = "sha256:<64 hex digits>" (or sha512:<128 hex digits>)`}
		}
	}
	if strings.Contains(a.Destination, "${") {
		return nil // made relative on the node (${NOMAD_TASK_DIR}/bin is local/bin)
	}
	d := a.Destination
	if d == "" {
		d = "local/"
	}
	taskDir := "/alloc/task"
	if rest, ok := sharedDest(d); ok {
		taskDir, d = "/alloc/alloc", rest
	}
	if _, err := destPath(taskDir, Artifact{Destination: d, Mode: a.Mode}, src); err != nil {
		var field, fix = "destination", `give a path inside the task dir, e.g. destination = "local/", or in the allocation's shared dir, e.g. "../alloc/data/"`
		switch {
		case errors.Is(err, ErrPathEscape):
		case a.Mode != "" && a.Mode != ModeAny && a.Mode != ModeFile:
			field, fix = "mode", `write mode = "any" (default) or "file"`
		case a.Mode == ModeFile:
			fix = `write the file's path, e.g. destination = "local/app.wasm"`
		default:
			fix = `end the URL path with the file's name, or set mode = "file" and destination = "local/<name>"`
		}
		return &CheckError{Field: field, Msg: fmt.Sprintf("artifact destination %q: %s", a.Destination, strings.TrimPrefix(err.Error(), "artifact: ")), Fix: fix}
	}
	return nil
}

// sourceFix is what to write for a source the agent cannot download.
const sourceFix = `use http, https or file: source = "https://host/path/app" (or http://, or file:///absolute/path for a file on the node, which the agent reads only from its artifact_file_paths)`

// forcedGetter returns the getter of go-getter's "getter::" prefix (git::,
// s3::, ...), if s starts with one. (No regexp: it would add to the agent.)
func forcedGetter(s string) (string, bool) {
	name, _, ok := strings.Cut(s, "::")
	if !ok || name == "" {
		return "", false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+.-", c)) {
			return "", false
		}
	}
	return name, true
}

// getterFixes says what to write instead of one of go-getter's getters.
var getterFixes = map[string]string{
	"git":   "git sources are not supported: download a release file over https with a checksum",
	"hg":    "Mercurial sources are not supported: download a release file over https with a checksum",
	"s3":    "S3 sources are not supported: use the object's https:// URL (public or presigned) with a checksum",
	"gcs":   "GCS sources are not supported: use the object's https:// URL (public or signed) with a checksum",
	"http":  "remove the forced getter: write the URL alone",
	"https": "remove the forced getter: write the URL alone",
	"file":  "remove the forced getter: write file:///absolute/path",
}

// shorthands are go-getter's scheme-less sources, detected by host.
var shorthands = []struct{ prefix, fix string }{
	{"github.com/", getterFixes["git"]},
	{"gitlab.com/", getterFixes["git"]},
	{"bitbucket.org/", getterFixes["git"]},
	{"git@", getterFixes["git"]},
	{"s3.amazonaws.com/", getterFixes["s3"]},
	{"storage.googleapis.com/", getterFixes["gcs"]},
	{"www.googleapis.com/storage/", getterFixes["gcs"]},
}

// getterParams are query parameters go-getter takes for itself from an
// http(s) URL: Nomad would act on them, the agent would send them to the
// server.
var getterParams = map[string]string{
	"checksum": `write the checksum in the artifact block: checksum = "sha256:<hex>"`,
	"archive":  "remove it: the agent never unpacks archives",
}

// prefixProblem checks the part of a source before its first ${: a
// getter, a shorthand or a scheme that is already known.
func prefixProblem(prefix string) (msg, fix string) {
	if getter, ok := forcedGetter(prefix); ok {
		return getterProblem(getter)
	}
	for _, s := range shorthands {
		if strings.HasPrefix(prefix, s.prefix) {
			return "is go-getter shorthand, not a URL", s.fix
		}
	}
	if scheme, _, ok := strings.Cut(prefix, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "file":
		default:
			return fmt.Sprintf("has scheme %q: the agent downloads only http, https and file sources", scheme), sourceFix
		}
	}
	return "", ""
}

func getterProblem(getter string) (msg, fix string) {
	fix, ok := getterFixes[strings.ToLower(getter)]
	if !ok {
		fix = sourceFix
	}
	return fmt.Sprintf("uses go-getter's %q getter, which the agent does not have", getter+"::"), fix
}

// checkSource parses a source as the agent downloads it, or says why it
// cannot and what to write instead.
func checkSource(s string) (u *url.URL, msg, fix string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, "is empty", sourceFix
	}
	if msg, fix := prefixProblem(s); msg != "" {
		return nil, msg, fix
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Sprintf("is not a URL: %v", err), sourceFix
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, "has no host", sourceFix
		}
		for k := range u.Query() {
			if fix, ok := getterParams[k]; ok {
				return nil, fmt.Sprintf("has the go-getter option %q in its query, which the agent does not read", k), fix
			}
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, "names a host: a file URL names a file on this node, without a host", "write file:///opt/apps/app.wasm"
		}
		if u.Path == "" || !path.IsAbs(u.Path) {
			return nil, "needs an absolute path", "write file:///opt/apps/app.wasm"
		}
	case "":
		return nil, "has no scheme", sourceFix
	default:
		return nil, fmt.Sprintf("has scheme %q: the agent downloads only http, https and file sources", u.Scheme), sourceFix
	}
	return u, "", ""
}
