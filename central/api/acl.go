package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tether-edge/tether/central/acl"
)

// ACLReader is the ACL side of the state store; central/state's *Store
// satisfies it.
type ACLReader interface {
	acl.Store
	ACLPolicies() []*acl.Policy
	ACLTokens() []*acl.Token
	ACLToken(accessorID string) *acl.Token
	ACLBootstrapIndex() uint64
}

// ACLBackend is the ACL part of the Backend. Writes go through Raft like
// any other; the API builds the records (IDs, secret, hash, times).
type ACLBackend interface {
	// ACLEnabled reports whether requests are checked (server -acl).
	ACLEnabled() bool
	ACLState() ACLReader
	// BootstrapACL stores the first management token; it fails with
	// acl.ErrBootstrapDone (wrapped) after the first time, unless the
	// operator wrote the reset index to the server's reset file.
	BootstrapACL(ctx context.Context, t *acl.Token) error
	UpsertACLPolicies(ctx context.Context, ps []*acl.Policy) error
	DeleteACLPolicies(ctx context.Context, names []string) error
	UpsertACLTokens(ctx context.Context, ts []*acl.Token) error
	DeleteACLTokens(ctx context.Context, accessorIDs []string) error
}

// TokenHeader carries a request's ACL secret ID.
const TokenHeader = "X-Tether-Token"

// TokenCookie also carries it, for the web UI's page loads (a browser
// navigation cannot set a header).
const TokenCookie = "tether_token"

type aclCtxKey struct{}

// authz is a request's resolved identity.
type authz struct {
	acl   *acl.ACL
	token *acl.Token // nil: anonymous or ACLs off
	err   error      // the token did not resolve
	anon  bool
}

// authn resolves the request's token once and keeps it in the context.
// With ACLs off every request gets the management ACL.
func (s *server) authn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		z := &authz{acl: acl.Management}
		if s.b.ACLEnabled() {
			secret := r.Header.Get(TokenHeader)
			if secret == "" {
				if c, err := r.Cookie(TokenCookie); err == nil {
					secret = c.Value
				}
			}
			z = &authz{anon: secret == ""}
			z.acl, z.token, z.err = s.resolver.Resolve(s.b.ACLState(), secret, time.Now())
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), aclCtxKey{}, z)))
	})
}

func authzOf(r *http.Request) *authz {
	if z, ok := r.Context().Value(aclCtxKey{}).(*authz); ok {
		return z
	}
	return &authz{acl: acl.Management} // not behind authn: tests of single handlers
}

// forbidden is the 403 for a request that lacks what: it names the
// missing capability and, without a token, how to send one.
func forbidden(r *http.Request, what string) error {
	z := authzOf(r)
	msg := acl.ErrPermissionDenied.Error() + ": "
	switch {
	case z.err != nil:
		msg += z.err.Error()
	case z.anon:
		msg += fmt.Sprintf("no ACL token given, and anonymous requests lack %s: send one with -token, CENTRAL_TOKEN or the %s header", what, TokenHeader)
	default:
		msg += fmt.Sprintf("token %q lacks %s", z.token.Name, what)
	}
	return &httpError{code: http.StatusForbidden, msg: msg, err: acl.ErrPermissionDenied}
}

// check is one route's permission test; a nil error allows the request.
type check func(r *http.Request) error

func (s *server) guard(c check, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := c(r); err != nil {
			closeUnread(w, r)
			return err
		}
		return h(w, r)
	}
}

// closeUnread, on a request refused before its body was read, closes the
// connection after the answer: otherwise net/http reads up to 256 KB of
// the unwanted body first, and holds the answer back while it waits.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
}

// allowNS checks capability in namespace ns ("*" or "": any namespace;
// list handlers then filter with canNS).
func allowNS(r *http.Request, ns, capability string) error {
	z := authzOf(r)
	ok := false
	if z.err == nil {
		if ns == "*" || ns == "" {
			ok = z.acl.AllowAnyNamespace(capability)
		} else {
			ok = z.acl.AllowNamespace(ns, capability)
		}
	}
	if ok {
		return nil
	}
	where := fmt.Sprintf("in namespace %q", ns)
	if ns == "*" || ns == "" {
		where = "in any namespace"
	}
	return forbidden(r, fmt.Sprintf("capability %q %s", capability, where))
}

// canNS reports whether the request may use capability in namespace ns,
// for filtering lists.
func canNS(r *http.Request, ns, capability string) bool {
	z := authzOf(r)
	return z.err == nil && z.acl.AllowNamespace(ns, capability)
}

// nsCap checks capability in the request's ?namespace= (default "default").
func nsCap(capability string) check {
	return func(r *http.Request) error { return allowNS(r, namespace(r), capability) }
}

func levelCheck(scope string, l acl.Level, allow func(*acl.ACL, acl.Level) bool) check {
	return func(r *http.Request) error {
		z := authzOf(r)
		if z.err == nil && allow(z.acl, l) {
			return nil
		}
		return forbidden(r, fmt.Sprintf("%s %s (policy %q or higher in a %s block)", scope, l, l.String(), scope))
	}
}

func nodeCap(l acl.Level) check     { return levelCheck("node", l, (*acl.ACL).AllowNode) }
func agentCap(l acl.Level) check    { return levelCheck("agent", l, (*acl.ACL).AllowAgent) }
func operatorCap(l acl.Level) check { return levelCheck("operator", l, (*acl.ACL).AllowOperator) }

// management checks for a management token.
func management(r *http.Request) error {
	z := authzOf(r)
	if z.err == nil && z.acl.IsManagement() {
		return nil
	}
	return forbidden(r, "management (only a management token may do this)")
}

// open allows every request.
func open(*http.Request) error { return nil }

// anyToken allows any request whose token resolved (or ACLs off).
func anyToken(r *http.Request) error {
	z := authzOf(r)
	if z.err == nil && (!z.anon || z.acl.IsManagement()) {
		return nil
	}
	return forbidden(r, "a valid token")
}

// aclWriteErr maps ACL write errors to their status codes.
func aclWriteErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, acl.ErrBadPolicy), errors.Is(err, acl.ErrBadToken), errors.Is(err, acl.ErrBootstrapDone):
		return badRequest("%v", err)
	case errors.Is(err, acl.ErrNoSuchPolicy), errors.Is(err, acl.ErrNoSuchToken):
		return notFound("%v", err)
	}
	return err
}

// CheckManagement is CheckOperator for what only a management token may
// do (agent releases and rollouts: they decide what code every device
// runs).
func CheckManagement(b Backend, resolver *acl.Resolver, w http.ResponseWriter, r *http.Request) bool {
	if !b.ACLEnabled() {
		return true
	}
	secret := r.Header.Get(TokenHeader)
	z := &authz{anon: secret == ""}
	z.acl, z.token, z.err = resolver.Resolve(b.ACLState(), secret, time.Now())
	err := management(r.WithContext(context.WithValue(r.Context(), aclCtxKey{}, z)))
	if err == nil {
		return true
	}
	var he *httpError
	errors.As(err, &he)
	closeUnread(w, r) // refused before the body is read: do not wait for it
	writeError(w, he.code, he.msg)
	return false
}

// CheckOperator lets the server guard its own operator endpoints
// (raft configuration, peers, snapshots) with the same tokens: it answers
// the request with a 403 and returns false when the token lacks operator
// read (write false) or write.
func CheckOperator(b Backend, resolver *acl.Resolver, w http.ResponseWriter, r *http.Request, write bool) bool {
	if !b.ACLEnabled() {
		return true
	}
	secret := r.Header.Get(TokenHeader)
	z := &authz{anon: secret == ""}
	z.acl, z.token, z.err = resolver.Resolve(b.ACLState(), secret, time.Now())
	l := acl.Read
	if write {
		l = acl.Write
	}
	err := operatorCap(l)(r.WithContext(context.WithValue(r.Context(), aclCtxKey{}, z)))
	if err == nil {
		return true
	}
	var he *httpError
	errors.As(err, &he)
	closeUnread(w, r) // refused before the body is read: do not wait for it
	writeError(w, he.code, he.msg)
	return false
}
