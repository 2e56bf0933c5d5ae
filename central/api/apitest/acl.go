package apitest

import (
	"context"
	"sync"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/state"
)

// aclState keeps ACL policies and tokens in a real state store, so the
// stub validates them exactly as central does.
type aclState struct {
	store *state.Store
	mu    sync.Mutex // guards index
	index uint64
	// ResetIndex is passed to bootstraps (the reset file's content).
	reset uint64
}

func newACLState() *aclState { return &aclState{store: state.NewStore()} }

func (a *aclState) apply(op state.Op) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.index++
	return a.store.ApplyDirect(a.index, &state.Command{Ops: []state.Op{op}}).Err
}

// ACLEnabled reports b.ACL.
func (b *Backend) ACLEnabled() bool { return b.ACL }

// ACLState returns the ACL store.
func (b *Backend) ACLState() api.ACLReader { return b.acls.store }

// SetACLResetIndex sets the reset index the next bootstraps pass, as an
// operator's reset file would.
func (b *Backend) SetACLResetIndex(i uint64) {
	b.acls.mu.Lock()
	b.acls.reset = i
	b.acls.mu.Unlock()
}

// BootstrapACL stores the first management token.
func (b *Backend) BootstrapACL(ctx context.Context, t *acl.Token) error {
	b.acls.mu.Lock()
	reset := b.acls.reset
	b.acls.mu.Unlock()
	return b.acls.apply(state.Op{BootstrapACL: &state.BootstrapACL{Token: t, ResetIndex: reset}})
}

// UpsertACLPolicies stores policies.
func (b *Backend) UpsertACLPolicies(ctx context.Context, ps []*acl.Policy) error {
	return b.acls.apply(state.Op{UpsertACLPolicies: ps})
}

// DeleteACLPolicies deletes policies by name.
func (b *Backend) DeleteACLPolicies(ctx context.Context, names []string) error {
	return b.acls.apply(state.Op{DeleteACLPolicies: names})
}

// UpsertACLTokens stores tokens.
func (b *Backend) UpsertACLTokens(ctx context.Context, ts []*acl.Token) error {
	return b.acls.apply(state.Op{UpsertACLTokens: ts})
}

// DeleteACLTokens deletes tokens by accessor ID.
func (b *Backend) DeleteACLTokens(ctx context.Context, ids []string) error {
	return b.acls.apply(state.Op{DeleteACLTokens: ids})
}
