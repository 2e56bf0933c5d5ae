package ota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Blobs stores release binaries in a directory, one file per SHA-256
// (hex), written under a temporary name and renamed once complete and
// hashed: a file that exists is whole and matches its name.
type Blobs struct {
	dir string
}

// ErrHashMismatch is returned when bytes do not hash to what was expected.
var ErrHashMismatch = errors.New("ota: the bytes do not match the release's SHA-256")

// OpenBlobs opens (creating) the blob directory dir, and removes the
// temporary files an interrupted write left.
func OpenBlobs(dir string) (*Blobs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ota: create release directory %s: %w", dir, err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return &Blobs{dir: dir}, nil
}

func validSum(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	_, err := hex.DecodeString(sum)
	return err == nil
}

// Path returns the file of sum (it may not exist).
func (b *Blobs) Path(sum string) string { return filepath.Join(b.dir, sum) }

// Has reports whether the blob sum is stored.
func (b *Blobs) Has(sum string) bool {
	if !validSum(sum) {
		return false
	}
	_, err := os.Stat(b.Path(sum))
	return err == nil
}

// Open opens the blob sum for reading.
func (b *Blobs) Open(sum string) (*os.File, error) {
	if !validSum(sum) {
		return nil, fmt.Errorf("ota: %q is not a SHA-256", sum)
	}
	return os.Open(b.Path(sum))
}

// Put stores what r yields (at most MaxBinarySize bytes) and returns its
// SHA-256 and size. want, when not "", is the SHA-256 it must have.
func (b *Blobs) Put(r io.Reader, want string) (sum string, size int64, err error) {
	f, err := os.CreateTemp(b.dir, "put-*.tmp")
	if err != nil {
		return "", 0, fmt.Errorf("ota: store release binary: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(r, MaxBinarySize+1))
	if err != nil {
		return "", 0, fmt.Errorf("ota: store release binary: %w", err)
	}
	if size > MaxBinarySize {
		return "", 0, fmt.Errorf("ota: a release binary is at most %d MiB", MaxBinarySize>>20)
	}
	if size == 0 {
		return "", 0, errors.New("ota: the release binary is empty")
	}
	sum = hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return "", 0, fmt.Errorf("%w: got %s, want %s", ErrHashMismatch, sum, want)
	}
	if err = f.Sync(); err != nil {
		return "", 0, err
	}
	if err = f.Close(); err != nil {
		return "", 0, err
	}
	if err = os.Chmod(f.Name(), 0o600); err != nil {
		return "", 0, err
	}
	if err = os.Rename(f.Name(), b.Path(sum)); err != nil {
		return "", 0, fmt.Errorf("ota: store release binary: %w", err)
	}
	return sum, size, nil
}

// Remove deletes the blob sum (no error if it is gone).
func (b *Blobs) Remove(sum string) error {
	if !validSum(sum) {
		return nil
	}
	if err := os.Remove(b.Path(sum)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Sums lists the stored blobs.
func (b *Blobs) Sums() []string {
	ents, _ := os.ReadDir(b.dir)
	var out []string
	for _, e := range ents {
		if validSum(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// Fetch downloads url into the store, checking it hashes to sum and has
// size bytes (a server fetching a release another server holds).
func (b *Blobs) Fetch(ctx context.Context, client *http.Client, url, sum string, size int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ota: fetch %s: %s", url, resp.Status)
	}
	got, n, err := b.Put(io.LimitReader(resp.Body, size+1), sum)
	if err != nil {
		return err
	}
	if n != size {
		b.Remove(got)
		return fmt.Errorf("ota: fetch %s: %d bytes, want %d", url, n, size)
	}
	return nil
}
