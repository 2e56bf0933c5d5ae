package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/state"
)

// ACLResetFile, in the data dir of the leader, holds the reset index that
// lets `central acl bootstrap` run again (docs/acl.md).
const ACLResetFile = "acl-bootstrap-reset"

// ACLEnabled reports whether the server checks ACL tokens (-acl).
func (s *Server) ACLEnabled() bool { return s.cfg.ACL }

// ACLState is the store's ACL side.
func (s *Server) ACLState() api.ACLReader { return s.store }

// BootstrapACL stores the first management token through Raft. A reset
// index in <data_dir>/acl-bootstrap-reset allows one more bootstrap; the
// file is removed after it is used.
func (s *Server) BootstrapACL(ctx context.Context, t *acl.Token) error {
	path := filepath.Join(s.cfg.DataDir, ACLResetFile)
	var reset uint64
	if b, err := os.ReadFile(path); err == nil {
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s holds %q: write only the reset index the failed bootstrap printed", acl.ErrBadToken, path, strings.TrimSpace(string(b)))
		}
		reset = v
	}
	_, err := s.apply(&state.Command{Ops: []state.Op{{BootstrapACL: &state.BootstrapACL{Token: t, ResetIndex: reset}}}})
	if err == nil && reset != 0 {
		if rmErr := os.Remove(path); rmErr != nil {
			s.log.Warn("ACL bootstrap reset: could not remove the reset file", "path", path, "err", rmErr)
		}
	}
	return err
}

// UpsertACLPolicies stores policies (validated again by the FSM).
func (s *Server) UpsertACLPolicies(ctx context.Context, ps []*acl.Policy) error {
	_, err := s.apply(&state.Command{Ops: []state.Op{{UpsertACLPolicies: ps}}})
	return err
}

// DeleteACLPolicies deletes policies by name.
func (s *Server) DeleteACLPolicies(ctx context.Context, names []string) error {
	_, err := s.apply(&state.Command{Ops: []state.Op{{DeleteACLPolicies: names}}})
	return err
}

// UpsertACLTokens stores tokens (their secrets hashed; the API made them).
func (s *Server) UpsertACLTokens(ctx context.Context, ts []*acl.Token) error {
	_, err := s.apply(&state.Command{Ops: []state.Op{{UpsertACLTokens: ts}}})
	return err
}

// DeleteACLTokens deletes tokens by accessor ID.
func (s *Server) DeleteACLTokens(ctx context.Context, ids []string) error {
	_, err := s.apply(&state.Command{Ops: []state.Op{{DeleteACLTokens: ids}}})
	return err
}
