package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
)

// ACL endpoints:
//
//	POST   /v1/acl/bootstrap          → TokenView with secret_id (once)
//	GET    /v1/acl/policies           → [PolicyListEntry]          management
//	GET    /v1/acl/policy/<name>      → acl.Policy                 management, or a token holding it
//	PUT    /v1/acl/policy/<name>      ← PolicyRequest              management
//	DELETE /v1/acl/policy/<name>                                   management
//	GET    /v1/acl/tokens             → [TokenView] (no secrets)   management
//	POST   /v1/acl/token              ← TokenRequest → TokenView with secret_id   management
//	GET    /v1/acl/token/self         → TokenView                  any valid token
//	GET    /v1/acl/token/<accessor>   → TokenView                  management
//	DELETE /v1/acl/token/<accessor>                                management
func (s *server) aclRoutes(route func(string, map[string]handlerFunc)) {
	route("/v1/acl/bootstrap", map[string]handlerFunc{http.MethodPost: s.aclBootstrap, http.MethodPut: s.aclBootstrap})
	route("/v1/acl/policies", map[string]handlerFunc{http.MethodGet: s.guard(management, s.aclListPolicies)})
	route("/v1/acl/policy/{name}", map[string]handlerFunc{
		http.MethodGet:    s.aclGetPolicy,
		http.MethodPut:    s.guard(management, s.aclPutPolicy),
		http.MethodPost:   s.guard(management, s.aclPutPolicy),
		http.MethodDelete: s.guard(management, s.aclDeletePolicy),
	})
	route("/v1/acl/tokens", map[string]handlerFunc{http.MethodGet: s.guard(management, s.aclListTokens)})
	route("/v1/acl/token", map[string]handlerFunc{http.MethodPost: s.guard(management, s.aclCreateToken), http.MethodPut: s.guard(management, s.aclCreateToken)})
	route("/v1/acl/token/self", map[string]handlerFunc{http.MethodGet: s.guard(anyToken, s.aclSelf)})
	route("/v1/acl/token/{id}", map[string]handlerFunc{
		http.MethodGet:    s.guard(management, s.aclGetToken),
		http.MethodDelete: s.guard(management, s.aclDeleteToken),
	})
}

// PolicyRequest is the body of PUT /v1/acl/policy/<name>.
type PolicyRequest struct {
	Description string `json:"description"`
	Rules       string `json:"rules"`
}

// PolicyListEntry is a policy in GET /v1/acl/policies (without rules).
type PolicyListEntry struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	CreateIndex uint64 `json:"create_index"`
	ModifyIndex uint64 `json:"modify_index"`
}

// TokenRequest is the body of POST /v1/acl/token.
type TokenRequest struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"` // client (default) | management
	Policies []string `json:"policies"`
	Global   bool     `json:"global"`
	// ExpirationTTL is a Go duration ("24h"); empty means never.
	ExpirationTTL string `json:"expiration_ttl,omitempty"`
}

func (s *server) requireACL() error {
	if !s.b.ACLEnabled() {
		return badRequest("ACL support disabled: start the servers with -acl (or acl = true in their config)")
	}
	return nil
}

// newToken builds a token record and returns it with its secret.
func newToken(name, typ string, policies []string, global bool, ttl time.Duration) (*acl.Token, string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand failed: " + err.Error())
	}
	secret := structs.GenerateID() + "-" + hex.EncodeToString(b[:8])
	now := time.Now()
	t := &acl.Token{AccessorID: structs.GenerateID(), SecretHash: acl.HashSecret(secret), Name: name, Type: typ,
		Policies: policies, Global: global, CreateTime: now.UnixNano()}
	if ttl > 0 {
		t.ExpireTime = now.Add(ttl).UnixNano()
	}
	return t, secret
}

func (s *server) aclBootstrap(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	t, secret := newToken("Bootstrap Token", acl.TypeManagement, nil, true, 0)
	if err := s.b.BootstrapACL(r.Context(), t); err != nil {
		return aclWriteErr(err)
	}
	if st := s.b.ACLState().ACLToken(t.AccessorID); st != nil {
		t = st
	}
	return writeJSON(w, 0, t.View(secret))
}

func (s *server) aclListPolicies(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	ps := s.b.ACLState().ACLPolicies()
	out := make([]PolicyListEntry, 0, len(ps))
	for _, p := range ps {
		out = append(out, PolicyListEntry{Name: p.Name, Description: p.Description, CreateIndex: p.CreateIndex, ModifyIndex: p.ModifyIndex})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return writeJSON(w, 0, out)
}

func (s *server) aclGetPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := management(r); err != nil {
		z := authzOf(r)
		if z.token == nil || !contains(z.token.Policies, name) {
			return err
		}
	}
	p := s.b.ACLState().ACLPolicy(name)
	if p == nil {
		return notFound("ACL policy %q not found (list them with central acl policy list)", name)
	}
	return writeJSON(w, 0, p)
}

func (s *server) aclPutPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !acl.ValidName(name) {
		return badRequest("ACL policy name %q: use 1-128 letters, digits, '-' or '_'", name)
	}
	var req PolicyRequest
	if err := decodeBody(w, r, &req, acl.MaxPolicySize+4<<10); err != nil {
		return err
	}
	if _, err := acl.Parse(name, []byte(req.Rules)); err != nil {
		return badRequest("%v", err)
	}
	return ok(w, s.b.UpsertACLPolicies(r.Context(), []*acl.Policy{{Name: name, Description: req.Description, Rules: req.Rules}}))
}

func (s *server) aclDeletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	return ok(w, s.b.DeleteACLPolicies(r.Context(), []string{r.PathValue("name")}))
}

func (s *server) aclListTokens(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	ts := s.b.ACLState().ACLTokens()
	out := make([]acl.TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.View(""))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreateIndex != out[j].CreateIndex {
			return out[i].CreateIndex < out[j].CreateIndex
		}
		return out[i].AccessorID < out[j].AccessorID
	})
	return writeJSON(w, 0, out)
}

func (s *server) aclCreateToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	var req TokenRequest
	if err := decodeBody(w, r, &req, 16<<10); err != nil {
		return err
	}
	if req.Type == "" {
		req.Type = acl.TypeClient
	}
	var ttl time.Duration
	if req.ExpirationTTL != "" {
		d, err := time.ParseDuration(req.ExpirationTTL)
		if err != nil || d <= 0 {
			return badRequest("expiration_ttl %q: want a positive duration such as 24h", req.ExpirationTTL)
		}
		ttl = d
	}
	t, secret := newToken(req.Name, req.Type, req.Policies, req.Global, ttl)
	if err := s.b.UpsertACLTokens(r.Context(), []*acl.Token{t}); err != nil {
		return aclWriteErr(err)
	}
	if st := s.b.ACLState().ACLToken(t.AccessorID); st != nil {
		t = st
	}
	return writeJSON(w, 0, t.View(secret))
}

func (s *server) aclSelf(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	z := authzOf(r)
	if z.token == nil {
		return notFound("no ACL token given")
	}
	return writeJSON(w, 0, z.token.View(""))
}

func (s *server) aclGetToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	id, err := s.tokenAccessor(r.PathValue("id"))
	if err != nil {
		return err
	}
	t := s.b.ACLState().ACLToken(id)
	if t == nil {
		return notFound("ACL token with accessor ID %q not found (list them with central acl token list)", id)
	}
	return writeJSON(w, 0, t.View(""))
}

func (s *server) aclDeleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireACL(); err != nil {
		return err
	}
	id, err := s.tokenAccessor(r.PathValue("id"))
	if err != nil {
		return err
	}
	return ok(w, s.b.DeleteACLTokens(r.Context(), []string{id}))
}

// tokenAccessor resolves a token's accessor ID or a unique prefix of one
// (the routes are management-only: every token is visible).
func (s *server) tokenAccessor(id string) (string, error) {
	var ids []string
	for _, t := range s.b.ACLState().ACLTokens() {
		ids = append(ids, t.AccessorID)
	}
	return ResolveID("ACL token accessor", id, "central acl token list", ids)
}

// decodeBody decodes a JSON body of at most limit bytes, rejecting
// unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

// ok answers a write that has nothing else to say.
func ok(w http.ResponseWriter, err error) error {
	if err != nil {
		return aclWriteErr(err)
	}
	return writeJSON(w, 0, struct{}{})
}
