package acl

import (
	"os"
	"testing"
	"time"
)

type mapStore struct {
	tokens   map[string]*Token
	policies map[string]*Policy
}

func (m mapStore) ACLTokenBySecretHash(h string) *Token { return m.tokens[h] }
func (m mapStore) ACLPolicy(n string) *Policy           { return m.policies[n] }

func TestResolver(t *testing.T) {
	src, _ := os.ReadFile("testdata/tutorial.hcl")
	st := mapStore{tokens: map[string]*Token{}, policies: map[string]*Policy{"user": {Name: "user", Rules: string(src), ModifyIndex: 1}}}
	now := time.Unix(1000, 0)
	st.tokens[HashSecret("c")] = &Token{AccessorID: "a", Type: TypeClient, Policies: []string{"user", "gone"}}
	st.tokens[HashSecret("m")] = &Token{AccessorID: "m", Type: TypeManagement}
	st.tokens[HashSecret("old")] = &Token{AccessorID: "o", Type: TypeManagement, ExpireTime: now.UnixNano()}
	rv := NewResolver()
	if a, tok, err := rv.Resolve(st, "c", now); err != nil || tok.AccessorID != "a" || !a.AllowNamespace("x", CapSubmitJob) || a.AllowNode(Write) {
		t.Errorf("client token: %v %+v", err, tok)
	}
	if a, _, err := rv.Resolve(st, "m", now); err != nil || !a.IsManagement() {
		t.Errorf("management token: %v", err)
	}
	if _, _, err := rv.Resolve(st, "old", now); err == nil {
		t.Error("expired token resolved")
	}
	if _, _, err := rv.Resolve(st, "nope", now); err == nil {
		t.Error("unknown secret resolved")
	}
	if a, tok, err := rv.Resolve(st, "", now); err != nil || tok != nil || a.AllowNamespace("default", CapListJobs) {
		t.Errorf("anonymous without an anonymous policy must be denied: %v", err)
	}
	st.policies[AnonymousPolicy] = &Policy{Name: AnonymousPolicy, Rules: `namespace "default" { policy = "read" }`, ModifyIndex: 2}
	if a, _, _ := rv.Resolve(st, "", now); !a.AllowNamespace("default", CapListJobs) {
		t.Error("the anonymous policy is not applied to requests without a token")
	}
	// A changed policy is parsed again.
	st.policies["user"] = &Policy{Name: "user", Rules: `node { policy = "write" }`, ModifyIndex: 3}
	if a, _, _ := rv.Resolve(st, "c", now); !a.AllowNode(Write) || a.AllowNamespace("x", CapSubmitJob) {
		t.Error("resolver kept a stale policy")
	}
}

func BenchmarkResolveClientToken(b *testing.B) {
	src, _ := os.ReadFile("testdata/tutorial.hcl")
	st := mapStore{tokens: map[string]*Token{HashSecret("c"): {AccessorID: "a", Type: TypeClient, Policies: []string{"user"}}},
		policies: map[string]*Policy{"user": {Name: "user", Rules: string(src), ModifyIndex: 1}}}
	rv := NewResolver()
	now := time.Now()
	for b.Loop() {
		a, _, _ := rv.Resolve(st, "c", now)
		if !a.AllowNamespace("default", CapSubmitJob) {
			b.Fatal("denied")
		}
	}
}
