package ota_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/ota"
)

// TestBlobsVerifyWhatTheyStore: a blob fetched from another server is kept
// only if it hashes to the release's SHA-256 and has its size; nothing is
// left behind otherwise.
func TestBlobsVerifyWhatTheyStore(t *testing.T) {
	good := bytes.Repeat([]byte("agent"), 1000)
	sum := sha256.Sum256(good)
	want := hex.EncodeToString(sum[:])
	bad := append([]byte(nil), good...)
	bad[10] ^= 1
	serve := good
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(serve) }))
	defer srv.Close()
	b, err := ota.OpenBlobs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serve = bad
	if err := b.Fetch(context.Background(), srv.Client(), srv.URL, want, int64(len(good))); !errors.Is(err, ota.ErrHashMismatch) {
		t.Fatalf("tampered bytes: %v", err)
	}
	if b.Has(want) || len(b.Sums()) != 0 {
		t.Fatal("tampered bytes kept")
	}
	serve = good[:len(good)/2]
	if err := b.Fetch(context.Background(), srv.Client(), srv.URL, want, int64(len(good))); err == nil {
		t.Fatal("half a binary accepted")
	}
	serve = good
	if err := b.Fetch(context.Background(), srv.Client(), srv.URL, want, int64(len(good))); err != nil || !b.Has(want) {
		t.Fatalf("good bytes: %v", err)
	}
	if _, _, err := b.Put(bytes.NewReader(nil), ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty binary: %v", err)
	}
	if b.Has("../../etc/passwd") {
		t.Error("a path is not a SHA-256")
	}
}
