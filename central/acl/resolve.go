package acl

import (
	"fmt"
	"sync"
	"time"
)

// AnonymousPolicy is the policy applied to requests without a token, when
// it exists (as in Nomad); without it they may do nothing.
const AnonymousPolicy = "anonymous"

// Store is what Resolve reads: central/state's Store satisfies it.
type Store interface {
	ACLTokenBySecretHash(hash string) *Token
	ACLPolicy(name string) *Policy
}

// Resolver turns a secret ID into the ACL of its token. It caches parsed
// policies by name and modify index, so a request costs one hash and a
// few map lookups. It is safe for concurrent use.
type Resolver struct {
	mu    sync.Mutex // guards rules
	rules map[string]cachedRules
}

type cachedRules struct {
	modify uint64
	rules  *Rules
}

// NewResolver returns an empty resolver.
func NewResolver() *Resolver { return &Resolver{rules: map[string]cachedRules{}} }

// Resolve returns the ACL for secret (anonymous for ""), and the token
// (nil for anonymous). An unknown or expired secret is an error wrapping
// ErrNoSuchToken. Policies a token names that no longer exist grant
// nothing.
func (rv *Resolver) Resolve(st Store, secret string, now time.Time) (*ACL, *Token, error) {
	if secret == "" {
		return rv.compile(st, []string{AnonymousPolicy}), nil, nil
	}
	t := st.ACLTokenBySecretHash(HashSecret(secret))
	if t == nil {
		return nil, nil, fmt.Errorf("%w: the secret ID matches no token (check CENTRAL_TOKEN or X-Tether-Token)", ErrNoSuchToken)
	}
	if t.Expired(now) {
		return nil, nil, fmt.Errorf("%w: token %s expired at %s", ErrNoSuchToken, t.AccessorID, time.Unix(0, t.ExpireTime).UTC().Format(time.RFC3339))
	}
	if t.Type == TypeManagement {
		return Management, t, nil
	}
	return rv.compile(st, t.Policies), t, nil
}

func (rv *Resolver) compile(st Store, names []string) *ACL {
	var rs []*Rules
	for _, n := range names {
		p := st.ACLPolicy(n)
		if p == nil {
			continue
		}
		rv.mu.Lock()
		c, ok := rv.rules[n]
		rv.mu.Unlock()
		if !ok || c.modify != p.ModifyIndex {
			r, err := Parse(p.Name, []byte(p.Rules))
			if err != nil {
				continue // stored policies were validated; a bad one grants nothing
			}
			c = cachedRules{p.ModifyIndex, r}
			rv.mu.Lock()
			rv.rules[n] = c
			rv.mu.Unlock()
		}
		rs = append(rs, c.rules)
	}
	return Compile(rs)
}
