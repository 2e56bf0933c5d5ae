package api

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// SameOrigin refuses requests that change state (any method but GET, HEAD
// and OPTIONS) when a browser sent them for a page of another origin, ACLs
// on or off: without it, with ACLs off (central dev), any web page the
// operator visits could submit a job. It refuses:
//
//   - Sec-Fetch-Site other than same-origin or none (a browser's own
//     account of where the request comes from);
//   - an Origin header whose host is not the request's Host ("null"
//     included);
//   - a body that is not application/json: text/plain, forms and
//     multipart are what a page may send cross-origin without asking
//     first. The binary bodies, a snapshot restore and an agent
//     release, are application/octet-stream.
//
// Clients that are not browsers (the CLI, agents, other servers, curl)
// send neither header, and JSON with its type.
func SameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if msg := crossOrigin(r); msg != "" {
			closeUnread(w, r)
			writeError(w, http.StatusForbidden, msg)
			return
		}
		if msg := badContentType(r); msg != "" {
			closeUnread(w, r)
			writeError(w, http.StatusUnsupportedMediaType, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func crossOrigin(r *http.Request) string {
	if r.Header.Get(forwardedBy) != "" {
		// A follower forwarding a write checked it against its own Host.
		// A page cannot set this header without a CORS preflight, which
		// central never grants.
		return ""
	}
	switch s := r.Header.Get("Sec-Fetch-Site"); s {
	case "", "same-origin", "none":
	default:
		return "cross-origin request refused: Sec-Fetch-Site is " + s + "; a page may not change central's state from another origin (use the CLI or the API from a script)"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return ""
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || !sameHost(u, r.Host) {
		return "cross-origin request refused: Origin " + o + " is not this server (" + r.Host + "); a page may not change central's state from another origin (use the CLI or the API from a script)"
	}
	return ""
}

// sameHost compares an Origin's host and port with a Host header, with
// the scheme's default port filled in on both sides.
// forwardedBy is the header a follower adds to a write it forwards to the
// leader (central/server).
const forwardedBy = "X-Tether-Forwarded-By"

func sameHost(origin *url.URL, host string) bool {
	port := "80"
	if origin.Scheme == "https" {
		port = "443"
	}
	withPort := func(h string) string {
		if _, _, err := net.SplitHostPort(h); err == nil {
			return strings.ToLower(h)
		}
		return strings.ToLower(net.JoinHostPort(strings.Trim(h, "[]"), port))
	}
	return withPort(origin.Host) == withPort(host)
}

func badContentType(r *http.Request) string {
	if r.ContentLength == 0 {
		return "" // no body: nothing to mistype, and the origin checks above apply
	}
	want := "application/json"
	if r.URL.Path == "/v1/operator/snapshot" || strings.HasPrefix(r.URL.Path, "/v1/agent/release/") { // an agent binary (central/server/ota.go)
		want = "application/octet-stream"
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == want {
		return ""
	}
	if ct == "" {
		ct = "none"
	}
	return "request body of type " + ct + " refused: send Content-Type: " + want + " (text/plain, forms and multipart are refused so that no web page can post here)"
}
