package server

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tether-edge/tether/central/state"
)

// Secrets at rest (docs/security.md, "Secrets in snapshots"). Central's
// signing keys and its broker password live in the replicated keyring
// sealed with AES-256-GCM under a key-encryption key (KEK) that never
// enters Raft, its log or its snapshots: each server keeps it in
// data_dir/keyring.kek (0600). Whoever can read a snapshot (or the Raft
// log) sees only ciphertext and the KEK's ID.
//
//	leader, no keyring yet   → makes a KEK (unless it has one), seals, InitKeyring
//	any server, keyring.KEK  → not ours: POST /v1/operator/keyring/kek to each peer
//	  ≠ our KEK's ID            (the join path's authentication), keep the one
//	                            whose ID matches, write keyring.kek
//	snapshot restore         → keyring sealed with a KEK no server here holds:
//	                            rotate-on-restore (operator.go)

// KEKFile is the key-encryption key's file in a server's data dir.
const KEKFile = "keyring.kek"

// kekSize is the KEK's length: an AES-256 key.
const kekSize = 32

// kekFetchEvery is how often a server that lacks the cluster's KEK asks
// its peers for it.
const kekFetchEvery = 2 * time.Second

var (
	// errNoKEK is returned when the keyring is sealed with a KEK this
	// server does not hold.
	errNoKEK = errors.New("server: the keyring is sealed with a key-encryption key this server does not hold")
	// errUnseal is returned when a sealed secret does not open.
	errUnseal = errors.New("server: a sealed secret does not open with this server's key-encryption key")
)

// Purposes bind each sealed value to its use, so that one cannot be
// swapped for another (GCM's additional data).
const (
	sealSigningKey      = "tether signing key "
	sealCentralBrokerPW = "tether central broker password"
)

// secretBox holds this server's KEK and the secrets it opened from the
// current keyring (cached per keyring: the store hands out the same
// *Keyring until the keyring changes).
type secretBox struct {
	path string
	// restoring is set while a snapshot restore runs: a keyring this
	// server cannot open is then the restore's to settle, not a reason
	// to hand leadership away.
	restoring atomic.Bool

	mu     sync.Mutex // guards the fields below
	key    []byte     // nil: no KEK yet
	id     string
	opened *state.Keyring // the keyring keys and pw were opened from
	keys   []ed25519.PrivateKey
	pw     string
	seenPW string // central's broker password when last checked (pwChanged)
}

// pwChanged records pw as central's broker password and reports whether
// it differs from the one recorded before (none recorded: false).
func (b *secretBox) pwChanged(pw string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := b.seenPW != "" && b.seenPW != pw
	b.seenPW = pw
	return changed
}

// newSecretBox loads dataDir's KEK if there is one.
func newSecretBox(dataDir string) (*secretBox, error) {
	b := &secretBox{path: filepath.Join(dataDir, KEKFile)}
	raw, err := os.ReadFile(b.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return b, nil
	case err != nil:
		return nil, fmt.Errorf("server: read the key-encryption key %s: %w", b.path, err)
	case len(raw) != kekSize:
		return nil, fmt.Errorf("server: key-encryption key %s has %d bytes, want %d: restore it from a backup of this cluster's %s, or remove it if this server has never held a keyring", b.path, len(raw), kekSize, KEKFile)
	}
	b.key, b.id = raw, kekID(raw)
	return b, nil
}

// kekID names a KEK without revealing it.
func kekID(key []byte) string {
	sum := sha256.Sum256(append([]byte("tether kek id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// ID is the KEK's ID ("" without one).
func (b *secretBox) ID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.id
}

// ensure makes and stores a KEK if there is none and returns its ID.
func (b *secretBox) ensure() (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.key != nil {
		return b.id, nil
	}
	key := make([]byte, kekSize)
	rand.Read(key)
	if err := b.writeLocked(key); err != nil {
		return "", err
	}
	return b.id, nil
}

// install replaces the KEK with key (fetched from a peer).
func (b *secretBox) install(key []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.writeLocked(key)
}

func (b *secretBox) writeLocked(key []byte) error {
	tmp := b.path + ".tmp"
	if err := os.WriteFile(tmp, key, 0o600); err != nil {
		return fmt.Errorf("server: write the key-encryption key: %w", err)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fmt.Errorf("server: write the key-encryption key: %w", err)
	}
	b.key, b.id = key, kekID(key)
	b.opened, b.keys, b.pw = nil, nil, ""
	return nil
}

// seal encrypts plain for purpose under the KEK (nonce || ciphertext).
func (b *secretBox) seal(purpose string, plain []byte) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.key == nil {
		return nil, errNoKEK
	}
	g, err := gcm(b.key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, g.NonceSize())
	rand.Read(nonce)
	return g.Seal(nonce, nonce, plain, []byte(purpose)), nil
}

func (b *secretBox) openLocked(purpose string, sealed []byte) ([]byte, error) {
	g, err := gcm(b.key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < g.NonceSize() {
		return nil, errUnseal
	}
	out, err := g.Open(nil, sealed[:g.NonceSize()], sealed[g.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, errUnseal
	}
	return out, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("server: key-encryption key: %w", err)
	}
	return cipher.NewGCM(c)
}

// open returns kr's signing keys (active first) and central's broker
// password in clear. A legacy keyring's clear values are returned as
// they are.
func (b *secretBox) open(kr *state.Keyring) ([]ed25519.PrivateKey, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if kr == b.opened {
		return b.keys, b.pw, nil
	}
	if kr.KEK != "" && kr.KEK != b.id {
		return nil, "", fmt.Errorf("%w (keyring sealed with KEK %s, this server holds %q): it is fetched from the other servers; after restoring another cluster's snapshot, copy that cluster's %s into every server's data dir", errNoKEK, kr.KEK, b.id, KEKFile)
	}
	keys := make([]ed25519.PrivateKey, 0, len(kr.Keys))
	for _, k := range kr.Keys {
		priv := k.Private
		if len(k.Sealed) > 0 {
			var err error
			if priv, err = b.openLocked(sealSigningKey+k.ID, k.Sealed); err != nil {
				return nil, "", fmt.Errorf("signing key %s: %w", k.ID, err)
			}
		}
		if len(priv) != ed25519.PrivateKeySize {
			return nil, "", fmt.Errorf("signing key %s: %d bytes, want %d", k.ID, len(priv), ed25519.PrivateKeySize)
		}
		keys = append(keys, ed25519.PrivateKey(priv))
	}
	pw := kr.CentralPassword
	if len(kr.CentralPasswordSealed) > 0 {
		p, err := b.openLocked(sealCentralBrokerPW, kr.CentralPasswordSealed)
		if err != nil {
			return nil, "", fmt.Errorf("central's broker password: %w", err)
		}
		pw = string(p)
	}
	b.opened, b.keys, b.pw = kr, keys, pw
	return keys, pw, nil
}

// sealKey returns k with its private key sealed (and Private cleared).
func (b *secretBox) sealKey(k state.SigningKey, priv ed25519.PrivateKey) (state.SigningKey, error) {
	sealed, err := b.seal(sealSigningKey+k.ID, priv)
	if err != nil {
		return k, err
	}
	k.Private, k.Sealed = nil, sealed
	return k, nil
}

// sealKeyring returns a sealed copy of kr whose secrets are keys (active
// first, as in kr.Keys) and pw, with its chain kept.
func (b *secretBox) sealKeyring(kr *state.Keyring, keys []ed25519.PrivateKey, pw string) (*state.Keyring, error) {
	id, err := b.ensure()
	if err != nil {
		return nil, err
	}
	out := *kr
	out.Chain = kr.KeyChain() // derived from clear keys in a legacy keyring: keep it
	out.Keys = make([]state.SigningKey, len(kr.Keys))
	for i, k := range kr.Keys {
		if out.Keys[i], err = b.sealKey(k, keys[i]); err != nil {
			return nil, err
		}
	}
	if out.CentralPasswordSealed, err = b.seal(sealCentralBrokerPW, []byte(pw)); err != nil {
		return nil, err
	}
	out.CentralPassword, out.KEK = "", id
	return &out, nil
}

// centralPasswordChanged ends every session of central's login on this
// server's embedded broker and, on the leader, logs the gateway in again
// (with the new password).
func (s *Server) centralPasswordChanged(user string) {
	s.log.Info("central's broker password changed: ending the sessions logged in with the old one")
	if s.broker != nil {
		s.broker.DisconnectUser(user)
	}
	if s.currentLeader() != nil {
		s.restartLeading()
	}
}

// KEK exchange between servers: POST /v1/operator/keyring/kek, guarded
// like a join (the servers' join secret, or with ACLs a token with
// operator write), answers this server's KEK.

// kekResponse answers a KEK request.
type kekResponse struct {
	ID  string `json:"id"`
	Key []byte `json:"key"` // base64 in JSON
}

func (s *Server) handleKEK(w http.ResponseWriter, r *http.Request) {
	s.secrets.mu.Lock()
	key, id := s.secrets.key, s.secrets.id
	s.secrets.mu.Unlock()
	if key == nil {
		writeErr(w, http.StatusNotFound, "keyring kek: this server holds no key-encryption key yet")
		return
	}
	writeJSONBody(w, kekResponse{ID: id, Key: key})
}

// kekLoop fetches the cluster's KEK from the peers while the keyring is
// sealed with one this server does not hold, and when central's broker
// password changes (keyring rotate -broker-password) ends every session
// of central's login on this server's embedded broker (an attacker's
// among them) and, on the leader, reconnects the gateway with the new one.
func (s *Server) kekLoop() {
	client := &http.Client{Timeout: 3 * time.Second, Transport: s.peerTransport()}
	for {
		kr := s.store.Keyring()
		if kr != nil && kr.KEK != "" && kr.KEK != s.secrets.ID() {
			err := s.fetchKEK(client, kr.KEK)
			switch {
			case err != nil:
				s.log.Debug("fetching the key-encryption key from the other servers", "want", kr.KEK, "err", err)
			case s.currentLeader() == nil:
				s.restartLeading() // a leader that could not open the keyring now can
			}
		}
		if kr != nil {
			if _, pw, err := s.secrets.open(kr); err == nil && s.secrets.pwChanged(pw) {
				s.centralPasswordChanged(kr.CentralUsername)
			}
		}
		select {
		case <-s.done:
			return
		case <-time.After(kekFetchEvery):
		}
	}
}

// openKeyring opens kr's secrets; a server that does not hold the KEK yet
// (a follower that just joined, before kekLoop's next round) fetches it
// from its peers at once and tries again, so a request it serves does
// not fail for want of a key the cluster has.
func (s *Server) openKeyring(kr *state.Keyring) ([]ed25519.PrivateKey, string, error) {
	keys, pw, err := s.secrets.open(kr)
	if !errors.Is(err, errNoKEK) || kr.KEK == "" {
		return keys, pw, err
	}
	client := &http.Client{Timeout: 3 * time.Second, Transport: s.peerTransport()}
	if ferr := s.fetchKEK(client, kr.KEK); ferr != nil {
		return nil, "", fmt.Errorf("%w (fetching it from the other servers: %v)", err, ferr)
	}
	return s.secrets.open(kr)
}

// fetchKEK asks every known peer for its KEK and installs the one whose
// ID is want.
func (s *Server) fetchKEK(client *http.Client, want string) error {
	servers, _ := s.reg.list()
	var errs []error
	for _, p := range servers {
		if p.ID == s.cfg.Name || p.Removed || p.HTTPAddr == "" {
			continue
		}
		key, err := postKEK(client, s.httpScheme(), p.HTTPAddr, s.cfg.JoinSecret)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if kekID(key) != want {
			continue
		}
		if err := s.secrets.install(key); err != nil {
			return err
		}
		s.log.Info("key-encryption key received", "from", p.ID, "kek", want)
		return nil
	}
	return fmt.Errorf("no peer holds KEK %s: %w", want, errors.Join(errs...))
}

func postKEK(client *http.Client, scheme, addr, secret string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, scheme+"://"+addr+"/v1/operator/keyring/kek", nil)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		req.Header.Set(JoinSecretHeader, secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kek from %s: %s: %s", addr, resp.Status, bytes.TrimSpace(body))
	}
	var kr kekResponse
	if err := json.Unmarshal(body, &kr); err != nil || len(kr.Key) != kekSize {
		return nil, fmt.Errorf("kek from %s: not a key-encryption key", addr)
	}
	return kr.Key, nil
}
