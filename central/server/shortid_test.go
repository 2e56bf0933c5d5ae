package server

import (
	"net/http"
	"strings"
	"testing"
)

// `node revoke` and `node join-token delete` take the short IDs the CLI
// prints (a unique prefix), as every other ID does.
func TestRevokeAndJoinTokenDeleteTakePrefixes(t *testing.T) {
	s := authServer(t)
	base := "http://" + s.HTTPAddr()
	var jt JoinTokenResponse
	if code := httpJSON(t, "POST", base+"/v1/security/join-token", nil, &jt); code != http.StatusOK {
		t.Fatalf("create: %d", code)
	}
	var enr EnrollResponse
	if code := httpJSON(t, "POST", base+"/v1/enroll", EnrollRequest{JoinToken: jt.Secret, Name: "pi"}, &enr); code != http.StatusOK {
		t.Fatalf("enrol: %d", code)
	}
	if code, body := httpStatusBody(t, "DELETE", base+"/v1/security/node/"+enr.NodeID[:8], nil); code != http.StatusNoContent {
		t.Fatalf("revoke by prefix %s: %d %s", enr.NodeID[:8], code, body)
	}
	if s.store.NodeCredential(enr.NodeID) != nil {
		t.Fatal("the node's login survived its revocation by prefix")
	}
	if code, body := httpStatusBody(t, "DELETE", base+"/v1/security/node/"+enr.NodeID[:8], nil); code != http.StatusNotFound || !strings.Contains(body, "central node status") {
		t.Fatalf("revoke again: %d %s", code, body)
	}
	if code, body := httpStatusBody(t, "DELETE", base+"/v1/security/join-token/"+jt.Accessor[:6], nil); code != http.StatusNoContent {
		t.Fatalf("join-token delete by prefix: %d %s", code, body)
	}
	if len(s.store.JoinTokens()) != 0 {
		t.Fatal("the join token survived its deletion by prefix")
	}
	if code, body := httpStatusBody(t, "DELETE", base+"/v1/security/join-token/"+jt.Accessor[:6], nil); code != http.StatusNotFound || !strings.Contains(body, "central node join-token list") {
		t.Fatalf("delete again: %d %s", code, body)
	}
}
