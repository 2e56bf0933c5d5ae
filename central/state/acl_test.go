package state

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/tether-edge/tether/central/acl"
)

const tutorialRules = `agent { policy = "read" }
node { policy = "read" }
namespace "*" {
  policy       = "read"
  capabilities = ["submit-job", "read-logs"]
}
`

func testToken(id, secret, typ string, policies ...string) *acl.Token {
	return &acl.Token{AccessorID: id, SecretHash: acl.HashSecret(secret), Name: id, Type: typ, Policies: policies}
}

func TestACLOps(t *testing.T) {
	h := newHarness(t)
	boot := h.mustApply(Op{BootstrapACL: &BootstrapACL{Token: testToken("root", "s-root", acl.TypeManagement)}})
	if got := h.store.ACLBootstrapIndex(); got != boot.Index {
		t.Fatalf("bootstrap index %d, want %d", got, boot.Index)
	}
	// A second bootstrap fails and names the reset index; with it, it works.
	res := h.apply(Op{BootstrapACL: &BootstrapACL{Token: testToken("root2", "s2", acl.TypeManagement)}})
	if !errors.Is(res.Err, acl.ErrBootstrapDone) || !strings.Contains(res.Err.Error(), "reset index: 1") {
		t.Fatalf("second bootstrap: %v, want ErrBootstrapDone with reset index 1", res.Err)
	}
	if h.store.ACLToken("root2") != nil {
		t.Fatal("a refused bootstrap stored its token")
	}
	h.mustApply(Op{BootstrapACL: &BootstrapACL{Token: testToken("root2", "s2", acl.TypeManagement), ResetIndex: boot.Index}})
	if h.store.ACLBootstrapIndex() <= boot.Index {
		t.Fatal("reset bootstrap did not move the bootstrap index")
	}

	// Policies: bad rules are rejected with the policy's name; good ones stored.
	res = h.apply(Op{UpsertACLPolicies: []*acl.Policy{{Name: "bad", Rules: "namespace \"*\" {\n policy = \"admin\"\n}"}}})
	if !errors.Is(res.Err, acl.ErrBadPolicy) || !strings.Contains(res.Err.Error(), "bad:2") {
		t.Fatalf("bad policy: %v", res.Err)
	}
	res = h.apply(Op{UpsertACLPolicies: []*acl.Policy{{Name: "has space", Rules: tutorialRules}}})
	if !errors.Is(res.Err, ErrBadCommand) {
		t.Fatalf("bad policy name: %v", res.Err)
	}
	p1 := h.mustApply(Op{UpsertACLPolicies: []*acl.Policy{{Name: "user", Description: "d", Rules: tutorialRules}}})
	p2 := h.mustApply(Op{UpsertACLPolicies: []*acl.Policy{{Name: "user", Description: "d2", Rules: tutorialRules}}})
	p := h.store.ACLPolicy("user")
	if p == nil || p.Description != "d2" || p.CreateIndex != p1.Index || p.ModifyIndex != p2.Index {
		t.Fatalf("policy after update: %+v", p)
	}

	// Tokens: a client token needs existing policies; the secret hash is unique.
	for name, tc := range map[string]struct {
		tok  *acl.Token
		want error
	}{
		"no policies":       {testToken("c0", "x0", acl.TypeClient), acl.ErrBadToken},
		"missing policy":    {testToken("c0", "x0", acl.TypeClient, "nope"), acl.ErrNoSuchPolicy},
		"bad type":          {testToken("c0", "x0", "admin", "user"), acl.ErrBadToken},
		"management+policy": {testToken("c0", "x0", acl.TypeManagement, "user"), acl.ErrBadToken},
		"secret in use":     {testToken("c0", "s-root", acl.TypeClient, "user"), acl.ErrBadToken},
		"hash not sha256":   {&acl.Token{AccessorID: "c0", SecretHash: "plain", Type: acl.TypeManagement}, acl.ErrBadToken},
	} {
		if res := h.apply(Op{UpsertACLTokens: []*acl.Token{tc.tok}}); !errors.Is(res.Err, tc.want) {
			t.Errorf("%s: %v, want %v", name, res.Err, tc.want)
		}
	}
	h.mustApply(Op{UpsertACLTokens: []*acl.Token{testToken("c1", "s-c1", acl.TypeClient, "user")}})
	if tok := h.store.ACLTokenBySecretHash(acl.HashSecret("s-c1")); tok == nil || tok.AccessorID != "c1" {
		t.Fatalf("token by secret hash: %+v", tok)
	}
	if got := len(h.store.ACLTokens()); got != 3 {
		t.Fatalf("%d tokens, want 3", got)
	}

	// Deletes: missing names fail the op, present ones go.
	if res := h.apply(Op{DeleteACLTokens: []string{"c1", "nope"}}); !errors.Is(res.Err, acl.ErrNoSuchToken) || h.store.ACLToken("c1") == nil {
		t.Fatalf("delete with a missing token: %v (and c1 must stay)", res.Err)
	}
	h.mustApply(Op{DeleteACLTokens: []string{"c1"}})
	if h.store.ACLTokenBySecretHash(acl.HashSecret("s-c1")) != nil {
		t.Fatal("deleted token still resolves")
	}
	if res := h.apply(Op{DeleteACLPolicies: []string{"nope"}}); !errors.Is(res.Err, acl.ErrNoSuchPolicy) {
		t.Fatalf("delete missing policy: %v", res.Err)
	}
	h.mustApply(Op{DeleteACLPolicies: []string{"user"}})
	if len(h.store.ACLPolicies()) != 0 {
		t.Fatal("policy not deleted")
	}
	if h.store.Index(TableACLPolicies) == 0 || h.store.Index(TableACLTokens) == 0 {
		t.Fatal("ACL tables have no index")
	}
}

func TestACLSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	populate(h)
	h.mustApply(Op{BootstrapACL: &BootstrapACL{Token: testToken("root", "s-root", acl.TypeManagement)}})
	h.mustApply(Op{UpsertACLPolicies: []*acl.Policy{{Name: "user", Rules: tutorialRules}}})
	h.mustApply(Op{UpsertACLTokens: []*acl.Token{testToken("c1", "s-c1", acl.TypeClient, "user")}})

	snap, err := h.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := NewFSM(NewStore(), nil)
	if err := fresh.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	s := fresh.Store()
	if !reflect.DeepEqual(s.ACLPolicies(), h.store.ACLPolicies()) || !reflect.DeepEqual(s.ACLTokens(), h.store.ACLTokens()) {
		t.Fatal("ACL tables differ after restore")
	}
	if s.ACLBootstrapIndex() == 0 || s.ACLBootstrapIndex() != h.store.ACLBootstrapIndex() {
		t.Fatalf("bootstrap index %d after restore, want %d", s.ACLBootstrapIndex(), h.store.ACLBootstrapIndex())
	}
	if tok := s.ACLTokenBySecretHash(acl.HashSecret("s-c1")); tok == nil || tok.AccessorID != "c1" {
		t.Fatal("secret index not rebuilt on restore")
	}
	if dump(t, s) != dump(t, h.store) {
		t.Fatal("non-ACL state differs after restore")
	}
}
