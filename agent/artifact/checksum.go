package artifact

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// checksum is a parsed "algo:hex".
type checksum struct {
	algo string // "sha256" or "sha512"
	hex  string // lower case
}

// parseChecksum parses "sha256:<64 hex>" or "sha512:<128 hex>"; empty means
// no checksum (nil).
func parseChecksum(s string) (*checksum, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	algo, digest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("%w %q: want \"sha256:<hex>\" or \"sha512:<hex>\"", ErrBadChecksum, s)
	}
	algo = strings.ToLower(algo)
	var size int
	switch algo {
	case "sha256":
		size = sha256.Size
	case "sha512":
		size = sha512.Size
	default:
		return nil, fmt.Errorf("%w %q: algorithm %q is not supported (use sha256 or sha512)", ErrBadChecksum, s, algo)
	}
	b, err := hex.DecodeString(digest)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("%w %q: a %s checksum is %d hex digits", ErrBadChecksum, s, algo, 2*size)
	}
	return &checksum{algo: algo, hex: hex.EncodeToString(b)}, nil
}

func (c *checksum) newHash() hash.Hash {
	if c.algo == "sha512" {
		return sha512.New()
	}
	return sha256.New()
}

// key names the cache file.
func (c *checksum) key() string { return c.algo + "-" + c.hex }
