package state

import (
	"encoding/hex"
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/tether-edge/tether/central/acl"
)

// ACL tables: policies by name, tokens by accessor ID and by secret hash.
// The bootstrap's raft index is kept in the index table under
// aclBootstrapKey, so it travels in snapshots with everything else.
const (
	TableACLPolicies = "acl_policies"
	TableACLTokens   = "acl_tokens"
	aclBootstrapKey  = "acl_bootstrap"
)

// BootstrapACL creates the first management token. It fails with
// acl.ErrBootstrapDone once a bootstrap happened, unless ResetIndex equals
// the index of that bootstrap (the operator's reset file).
type BootstrapACL struct {
	Token      *acl.Token `json:"token"`
	ResetIndex uint64     `json:"reset_index,omitempty"`
}

func aclSchema() map[string]*memdb.TableSchema {
	return map[string]*memdb.TableSchema{
		TableACLPolicies: {
			Name: TableACLPolicies,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*acl.Policy).Name}, true }),
			},
		},
		TableACLTokens: {
			Name: TableACLTokens,
			Indexes: map[string]*memdb.IndexSchema{
				"id": idIndex(func(o any) ([]string, bool) { return []string{o.(*acl.Token).AccessorID}, true }),
				"secret": {Name: "secret", Unique: true, Indexer: strIndex{func(o any) ([]string, bool) {
					return []string{o.(*acl.Token).SecretHash}, true
				}}},
			},
		},
	}
}

// aclOps counts the ACL fields set on op.
func aclOps(op *Op) int {
	n := 0
	for _, set := range []bool{op.UpsertACLPolicies != nil, op.DeleteACLPolicies != nil,
		op.UpsertACLTokens != nil, op.DeleteACLTokens != nil, op.BootstrapACL != nil} {
		if set {
			n++
		}
	}
	return n
}

// applyACL applies op if it is an ACL op; ok is false otherwise.
func (a *applier) applyACL(op *Op) (ok bool, err error) {
	switch {
	case op.UpsertACLPolicies != nil:
		return true, a.upsertACLPolicies(op.UpsertACLPolicies)
	case op.DeleteACLPolicies != nil:
		return true, a.deleteACLPolicies(op.DeleteACLPolicies)
	case op.UpsertACLTokens != nil:
		return true, a.upsertACLTokens(op.UpsertACLTokens)
	case op.DeleteACLTokens != nil:
		return true, a.deleteACLTokens(op.DeleteACLTokens)
	case op.BootstrapACL != nil:
		return true, a.bootstrapACL(op.BootstrapACL)
	}
	return false, nil
}

func (a *applier) upsertACLPolicies(ps []*acl.Policy) error {
	for _, p := range ps {
		if p == nil || !acl.ValidName(p.Name) {
			return fmt.Errorf("%w: ACL policy name %q: use 1-128 letters, digits, '-' or '_'", ErrBadCommand, policyName(p))
		}
		if _, err := acl.Parse(p.Name, []byte(p.Rules)); err != nil {
			return err
		}
	}
	for _, p := range ps {
		if old := firstTxn[*acl.Policy](a.txn, TableACLPolicies, p.Name); old != nil {
			p.CreateIndex = old.CreateIndex
		} else {
			p.CreateIndex = a.index
		}
		p.ModifyIndex = a.index
		a.insert(TableACLPolicies, p)
	}
	return nil
}

func policyName(p *acl.Policy) string {
	if p == nil {
		return ""
	}
	return p.Name
}

func (a *applier) deleteACLPolicies(names []string) error {
	var found []*acl.Policy
	for _, n := range names {
		p := firstTxn[*acl.Policy](a.txn, TableACLPolicies, n)
		if p == nil {
			return fmt.Errorf("%w: %q", acl.ErrNoSuchPolicy, n)
		}
		found = append(found, p)
	}
	for _, p := range found {
		a.delete(TableACLPolicies, p)
	}
	return nil
}

func (a *applier) checkToken(t *acl.Token) error {
	if t == nil {
		return fmt.Errorf("%w: nil token", acl.ErrBadToken)
	}
	if err := checkID("ACL token", t.AccessorID); err != nil {
		return err
	}
	if b, err := hex.DecodeString(t.SecretHash); err != nil || len(b) != 32 {
		return fmt.Errorf("%w: token %s: secret hash is not a hex SHA-256", acl.ErrBadToken, t.AccessorID)
	}
	switch t.Type {
	case acl.TypeManagement:
		if len(t.Policies) > 0 {
			return fmt.Errorf("%w: token %q: a management token takes no policies (it may do everything)", acl.ErrBadToken, t.Name)
		}
	case acl.TypeClient:
		if len(t.Policies) == 0 {
			return fmt.Errorf("%w: token %q: a client token needs at least one policy (-policy NAME)", acl.ErrBadToken, t.Name)
		}
		for _, p := range t.Policies {
			if firstTxn[*acl.Policy](a.txn, TableACLPolicies, p) == nil {
				return fmt.Errorf("%w: %q (create it with central acl policy apply)", acl.ErrNoSuchPolicy, p)
			}
		}
	default:
		return fmt.Errorf("%w: token %q: type %q: want client or management", acl.ErrBadToken, t.Name, t.Type)
	}
	if old, _ := a.txn.First(TableACLTokens, "secret", t.SecretHash); old != nil && old.(*acl.Token).AccessorID != t.AccessorID {
		return fmt.Errorf("%w: token %s: secret already in use", acl.ErrBadToken, t.AccessorID)
	}
	return nil
}

func (a *applier) putToken(t *acl.Token) {
	if old := firstTxn[*acl.Token](a.txn, TableACLTokens, t.AccessorID); old != nil {
		t.CreateIndex = old.CreateIndex
	} else {
		t.CreateIndex = a.index
	}
	t.ModifyIndex = a.index
	a.insert(TableACLTokens, t)
}

func (a *applier) upsertACLTokens(ts []*acl.Token) error {
	for _, t := range ts {
		if err := a.checkToken(t); err != nil {
			return err
		}
	}
	for _, t := range ts {
		a.putToken(t)
	}
	return nil
}

func (a *applier) deleteACLTokens(ids []string) error {
	var found []*acl.Token
	for _, id := range ids {
		t := firstTxn[*acl.Token](a.txn, TableACLTokens, id)
		if t == nil {
			return fmt.Errorf("%w: accessor ID %q", acl.ErrNoSuchToken, id)
		}
		found = append(found, t)
	}
	for _, t := range found {
		a.delete(TableACLTokens, t)
	}
	return nil
}

func (a *applier) bootstrapACL(b *BootstrapACL) error {
	if cur := firstTxn[*indexEntry](a.txn, tableIndex, aclBootstrapKey); cur != nil && cur.Value != 0 && b.ResetIndex != cur.Value {
		return fmt.Errorf("%w (reset index: %d)", acl.ErrBootstrapDone, cur.Value)
	}
	if b.Token == nil || b.Token.Type != acl.TypeManagement {
		return fmt.Errorf("%w: the bootstrap token must be a management token", acl.ErrBadToken)
	}
	if err := a.checkToken(b.Token); err != nil {
		return err
	}
	a.putToken(b.Token)
	if err := a.txn.Insert(tableIndex, &indexEntry{Key: aclBootstrapKey, Value: a.index}); err != nil {
		panic("BUG: index table: " + err.Error())
	}
	return nil
}

// --- reads ---

// ACLPolicy returns a policy by name, or nil.
func (r reader) ACLPolicy(name string) *acl.Policy {
	return first[*acl.Policy](r.db, TableACLPolicies, "id", name)
}

// ACLPolicies returns every policy, sorted by name.
func (r reader) ACLPolicies() []*acl.Policy {
	return collect[*acl.Policy](r.get(TableACLPolicies, "id"))
}

// ACLToken returns a token by accessor ID, or nil.
func (r reader) ACLToken(accessorID string) *acl.Token {
	return first[*acl.Token](r.db, TableACLTokens, "id", accessorID)
}

// ACLTokenBySecretHash returns the token whose secret hashes to hash, or nil.
func (r reader) ACLTokenBySecretHash(hash string) *acl.Token {
	return first[*acl.Token](r.db, TableACLTokens, "secret", hash)
}

// ACLTokens returns every token, sorted by accessor ID.
func (r reader) ACLTokens() []*acl.Token {
	return collect[*acl.Token](r.get(TableACLTokens, "id"))
}

// ACLBootstrapIndex is the raft index of the ACL bootstrap, 0 before it.
func (r reader) ACLBootstrapIndex() uint64 {
	if e := first[*indexEntry](r.db, tableIndex, "id", aclBootstrapKey); e != nil {
		return e.Value
	}
	return 0
}

func (s *Store) ACLPolicy(name string) *acl.Policy     { return s.live().ACLPolicy(name) }
func (s *Store) ACLPolicies() []*acl.Policy            { return s.live().ACLPolicies() }
func (s *Store) ACLToken(accessorID string) *acl.Token { return s.live().ACLToken(accessorID) }
func (s *Store) ACLTokenBySecretHash(hash string) *acl.Token {
	return s.live().ACLTokenBySecretHash(hash)
}
func (s *Store) ACLTokens() []*acl.Token   { return s.live().ACLTokens() }
func (s *Store) ACLBootstrapIndex() uint64 { return s.live().ACLBootstrapIndex() }
