package state

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/tether-edge/tether/protocol"
)

func testKey(t *testing.T, id string) SigningKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return SigningKey{ID: id, Private: priv, Public: pub}
}

// A keyring stored before key chains existed (no Chain, two keys) gets a
// chain derived from its keys, the same on every server, and its next
// rotation continues it.
func TestLegacyKeyringChain(t *testing.T) {
	h := newHarness(t)
	old, active := testKey(t, "old"), testKey(t, "active")
	// A snapshot written before chains existed: the keyring row has no chain.
	var buf bytes.Buffer
	enc := encMode.NewEncoder(&buf)
	for _, v := range []any{&snapHeader{Format: 3, Index: 5},
		&snapRecord{Sec: &SecurityEntry{Key: keyringKey, Keyring: &Keyring{Keys: []SigningKey{active, old}, CentralUsername: "c"}}},
		&snapRecord{End: true}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.fsm.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	chain := h.store.Keyring().KeyChain()
	if newest, idx, err := protocol.VerifyKeyChain(old.Public, chain); err != nil || idx != 2 || !newest.Equal(ed25519.PublicKey(active.Public)) {
		t.Fatalf("derived chain: index %d err %v", idx, err)
	}
	next := testKey(t, "next")
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &next}})
	if newest, idx, err := protocol.VerifyKeyChain(old.Public, h.store.Keyring().KeyChain()); err != nil || idx != 3 || !newest.Equal(ed25519.PublicKey(next.Public)) {
		t.Fatalf("chain after rotation: index %d err %v", idx, err)
	}
}

func TestSecurityOpsAndSnapshot(t *testing.T) {
	h := newHarness(t)
	k1 := testKey(t, "k1")
	h.mustApply(Op{Security: &SecurityOp{InitKeyring: &Keyring{Keys: []SigningKey{k1}, CentralUsername: "tether-central", CentralPassword: "pw"}}})
	// A second init (another leader racing) keeps the first keyring.
	h.mustApply(Op{Security: &SecurityOp{InitKeyring: &Keyring{Keys: []SigningKey{{ID: "other"}}}}})
	if kr := h.store.Keyring(); kr == nil || kr.Keys[0].ID != "k1" {
		t.Fatalf("keyring %+v, want k1 kept", kr)
	}
	// Enrolment needs a known join token.
	cred := &NodeCredential{NodeID: "n1", Username: "node-n1", PasswordHash: "$7$..."}
	if res := h.apply(Op{Security: &SecurityOp{Enroll: &Enroll{TokenHash: "h1", Credential: cred}}}); !errors.Is(res.Err, ErrNoJoinToken) {
		t.Fatalf("enrol with unknown token: %v", res.Err)
	}
	h.mustApply(Op{Security: &SecurityOp{UpsertJoinToken: &JoinToken{Hash: "h1"}}})
	h.mustApply(Op{Security: &SecurityOp{Enroll: &Enroll{TokenHash: "h1", Credential: cred}}})
	if got := h.store.NodeCredential("n1"); got == nil || got.Username != "node-n1" {
		t.Fatalf("credential %+v", got)
	}
	// Rotation: the new key is active, the old one co-signs, older ones go.
	k2, k3 := testKey(t, "k2"), testKey(t, "k3")
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &k2}})
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &k3}})
	kr := h.store.Keyring()
	if len(kr.Keys) != 2 || kr.Keys[0].ID != "k3" || kr.Keys[1].ID != "k2" || kr.CentralPassword != "pw" {
		t.Fatalf("after rotations: %+v", kr)
	}
	// Every rotation extended the chain, each key endorsed by the one before.
	chain := kr.KeyChain()
	if len(chain) != 3 || kr.ActiveIndex() != 3 {
		t.Fatalf("chain has %d links, active index %d; want 3, 3", len(chain), kr.ActiveIndex())
	}
	if newest, idx, err := protocol.VerifyKeyChain(k1.Public, chain); err != nil || idx != 3 || !newest.Equal(ed25519.PublicKey(k3.Public)) {
		t.Fatalf("chain from k1: index %d err %v", idx, err)
	}
	// Enrolment counts uses and refuses an expired token.
	h.mustApply(Op{Security: &SecurityOp{UpsertJoinToken: &JoinToken{Hash: "h2", Accessor: "acc2", Expires: 1000}}})
	cred2 := &NodeCredential{NodeID: "n2", Username: "n2"}
	h.mustApply(Op{Security: &SecurityOp{Enroll: &Enroll{TokenHash: "h2", Credential: cred2, Now: 999}}})
	if res := h.apply(Op{Security: &SecurityOp{Enroll: &Enroll{TokenHash: "h2", Credential: cred2, Now: 1000}}}); !errors.Is(res.Err, ErrJoinTokenExpired) {
		t.Fatalf("enrol with an expired token: %v", res.Err)
	}
	if jt := h.store.JoinTokenByHash("h2"); jt == nil || jt.Uses != 1 || jt.AccessorID() != "acc2" {
		t.Fatalf("join token after one enrolment: %+v", jt)
	}
	if got := h.store.JoinTokenByHash("h1").AccessorID(); got != "h-h1" {
		t.Fatalf("legacy accessor %q", got)
	}
	if n := len(h.store.JoinTokens()); n != 2 {
		t.Fatalf("%d join tokens listed, want 2", n)
	}

	snap, _ := h.fsm.Snapshot()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := NewFSM(NewStore(), nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fresh.Store().Keyring(), h.store.Keyring()) || !reflect.DeepEqual(fresh.Store().NodeCredentials(), h.store.NodeCredentials()) {
		t.Fatal("security table differs after restore")
	}

	h.mustApply(Op{Security: &SecurityOp{RevokeNode: "n1"}})
	if h.store.NodeCredential("n1") != nil {
		t.Fatal("credential survives revoke")
	}
	if res := h.apply(Op{Security: &SecurityOp{RevokeNode: "n1"}}); !errors.Is(res.Err, ErrNoCredential) {
		t.Fatalf("second revoke: %v", res.Err)
	}
	h.mustApply(Op{Security: &SecurityOp{DeleteJoinToken: "h1"}})
	if h.store.JoinTokenByHash("h1") != nil {
		t.Fatal("join token survives delete")
	}
}

// A sealed keyring: the FSM cannot open the active key, so a rotation
// carries the leader's endorsement, which the FSM checks; a replacement
// keyring must hold no secret in clear.
func TestSealedKeyringRotationAndReplace(t *testing.T) {
	h := newHarness(t)
	k1 := testKey(t, "k1")
	priv1 := ed25519.PrivateKey(k1.Private)
	sealed1 := SigningKey{ID: k1.ID, Public: k1.Public, Sealed: []byte("ciphertext")}
	h.mustApply(Op{Security: &SecurityOp{InitKeyring: &Keyring{Keys: []SigningKey{sealed1}, CentralUsername: "c", CentralPasswordSealed: []byte("x"), KEK: "kek1"}}})
	if kr := h.store.Keyring(); !kr.Sealed() || kr.ActiveIndex() != 1 {
		t.Fatalf("sealed keyring %+v", kr)
	}
	k2 := testKey(t, "k2")
	sealed2 := SigningKey{ID: k2.ID, Public: k2.Public, Sealed: []byte("ciphertext2")}
	// No endorsement, or one by another key: refused.
	if res := h.apply(Op{Security: &SecurityOp{RotateKey: &sealed2}}); !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("rotation without an endorsement: %v", res.Err)
	}
	bad, _ := protocol.EndorseKey(ed25519.PrivateKey(k2.Private), 2, k2.Public)
	if res := h.apply(Op{Security: &SecurityOp{RotateKey: &sealed2, RotateEndorsement: bad}}); !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("rotation endorsed by the new key itself: %v", res.Err)
	}
	e, _ := protocol.EndorseKey(priv1, 2, k2.Public)
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &sealed2, RotateEndorsement: e}})
	kr := h.store.Keyring()
	if newest, idx, err := protocol.VerifyKeyChain(k1.Public, kr.KeyChain()); err != nil || idx != 2 || !newest.Equal(ed25519.PublicKey(k2.Public)) {
		t.Fatalf("chain after a sealed rotation: %d %v", idx, err)
	}
	if !kr.Sealed() || kr.KEK != "kek1" {
		t.Fatalf("rotation unsealed or lost the KEK id: %+v", kr)
	}
	// A replacement with a clear key or password, or no KEK id, is refused.
	for _, r := range []*Keyring{
		{Keys: []SigningKey{k2}, KEK: "kek2"},
		{Keys: []SigningKey{sealed2}, CentralPassword: "pw", KEK: "kek2"},
		{Keys: []SigningKey{sealed2}},
	} {
		if res := h.apply(Op{Security: &SecurityOp{ReplaceKeyring: r}}); !errors.Is(res.Err, ErrBadCommand) {
			t.Fatalf("replacement %+v: %v", r, res.Err)
		}
	}
	h.mustApply(Op{Security: &SecurityOp{ReplaceKeyring: &Keyring{Keys: []SigningKey{sealed2}, CentralUsername: "c", KEK: "kek2",
		Chain: []protocol.KeyLink{{Index: 3, PublicKey: k2.Public}}}}})
	if kr := h.store.Keyring(); kr.KEK != "kek2" || kr.ActiveIndex() != 3 {
		t.Fatalf("after replace: %+v", kr)
	}
}
