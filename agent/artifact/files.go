package artifact

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// openFile opens a file:// source if it lies under one of the directories
// of artifact_file_paths, through an os.Root on that directory: a symlink
// that leads out of it is not followed. Only regular files are read.
func (f *Fetcher) openFile(src *url.URL) (*os.File, error) {
	p := filepath.Clean(filepath.FromSlash(src.Path))
	if len(f.files) == 0 {
		return nil, fmt.Errorf("artifact %s: %w: this agent reads no local files for artifacts (artifact_file_paths is empty): to allow it, list a directory in the agent config, e.g. artifact_file_paths = [\"/srv/artifacts\"], and keep the files there",
			src.Redacted(), ErrFileNotAllowed)
	}
	for _, dir := range f.files {
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("artifact %s: %w: artifact_file_paths directory %s: %v", src.Redacted(), ErrDownload, dir, err)
		}
		defer root.Close()
		fi, err := root.Stat(rel)
		if err != nil {
			if _, lerr := os.Stat(p); lerr == nil {
				return nil, fmt.Errorf("artifact %s: %w: a symlink on the way leads out of %s (artifact_file_paths): put the file itself there", src.Redacted(), ErrFileNotAllowed, dir)
			}
			return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("artifact %s: %w: %s is not a regular file", src.Redacted(), ErrFileNotAllowed, p)
		}
		fh, err := root.Open(rel)
		if err != nil {
			return nil, fmt.Errorf("artifact %s: %w: %v", src.Redacted(), ErrDownload, err)
		}
		if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
			fh.Close()
			return nil, fmt.Errorf("artifact %s: %w: %s is not a regular file", src.Redacted(), ErrFileNotAllowed, p)
		}
		return fh, nil
	}
	return nil, fmt.Errorf("artifact %s: %w: %s is not under the agent's artifact_file_paths (%s): move the file there or add its directory",
		src.Redacted(), ErrFileNotAllowed, p, strings.Join(f.files, ", "))
}
