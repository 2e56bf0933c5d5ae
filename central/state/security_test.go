package state

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestSecurityOpsAndSnapshot(t *testing.T) {
	h := newHarness(t)
	k1 := SigningKey{ID: "k1", Private: []byte("priv1"), Public: []byte("pub1")}
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
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &SigningKey{ID: "k2"}}})
	h.mustApply(Op{Security: &SecurityOp{RotateKey: &SigningKey{ID: "k3"}}})
	if kr := h.store.Keyring(); len(kr.Keys) != 2 || kr.Keys[0].ID != "k3" || kr.Keys[1].ID != "k2" || kr.CentralPassword != "pw" {
		t.Fatalf("after rotations: %+v", kr)
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
