package artifact

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// guard decides which addresses a download may connect to. It runs on the
// address actually dialed (net.Dialer.ControlContext), after name
// resolution and for every redirect, so a name that resolves to something
// else the second time (DNS rebinding) is checked by what it resolved to.
//
// Refused: central's API and the brokers (the endpoints in the agent's
// config, by address and port) always; loopback, link-local, unspecified
// and multicast addresses unless a prefix of allow holds them.
type guard struct {
	allow []netip.Prefix
	deny  []string // host:port of central's API and the brokers
}

// refusedError is a dial the guard refused.
type refusedError struct {
	addr netip.AddrPort
	why  string
}

func (e *refusedError) Error() string   { return e.addr.String() + " " + e.why }
func (e *refusedError) Is(t error) bool { return t == ErrAddressRefused }

// denyKey carries the resolved deny set from wrapDial to control.
type denyKey struct{}

// wrapDial resolves the deny endpoints for this connection and hands them
// to control through the context.
func (g *guard) wrapDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dial(context.WithValue(ctx, denyKey{}, g.resolveDeny(ctx)), network, addr)
	}
}

// resolveDeny maps every address of the deny endpoints to the endpoint as
// configured (for the error). A name that does not resolve now cannot be
// dialed by it either, so it is left out.
func (g *guard) resolveDeny(ctx context.Context) map[netip.AddrPort]string {
	out := map[netip.AddrPort]string{}
	for _, hp := range g.deny {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		pn, err := netip.ParseAddrPort(net.JoinHostPort("0.0.0.0", port))
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			out[netip.AddrPortFrom(ip.Unmap(), pn.Port())] = hp
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, _ := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
		cancel()
		for _, ip := range ips {
			out[netip.AddrPortFrom(ip.Unmap(), pn.Port())] = hp
		}
	}
	return out
}

// control is the dialer's ControlContext: it refuses the connection before
// it is made.
func (g *guard) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedError{why: fmt.Sprintf("(%q) is not an IP address and port", address)}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()) // fe80::1%eth0 is judged as fe80::1
	if deny, _ := ctx.Value(denyKey{}).(map[netip.AddrPort]string); deny != nil {
		if ep, ok := deny[ap]; ok {
			return &refusedError{addr: ap, why: fmt.Sprintf("is central's API or a broker of this agent (%s); artifacts are never fetched from them: serve the file from another address", ep)}
		}
	}
	kind, wide := localKind(ap.Addr())
	if kind == "" {
		return nil
	}
	for _, p := range g.allow {
		if p.Contains(ap.Addr()) {
			return nil
		}
	}
	return &refusedError{addr: ap, why: fmt.Sprintf("is a %s address, which artifact downloads may not reach by default: to allow it, add it to the agent config, e.g. artifact_allow_networks = [%q]", kind, wide)}
}

// localKind names the kind of a node-local address and the prefix that
// covers its kind; "" for an address that is fine to dial.
func localKind(ip netip.Addr) (kind, prefix string) {
	v4 := ip.Is4()
	pick := func(p4, p6 string) string {
		if v4 {
			return p4
		}
		return p6
	}
	switch {
	case ip.IsLoopback():
		return "loopback", pick("127.0.0.0/8", "::1/128")
	case ip.IsUnspecified() || (v4 && ip.As4()[0] == 0):
		return "unspecified (this host)", pick("0.0.0.0/8", "::/128")
	case ip.IsLinkLocalUnicast():
		return "link-local", pick("169.254.0.0/16", "fe80::/10")
	case ip.IsMulticast():
		return "multicast", pick("224.0.0.0/4", "ff00::/8")
	}
	return "", ""
}

// Endpoints lists host:port of the brokers and central's API from their
// URLs, with each scheme's default port, for Options.Deny.
func Endpoints(urls ...string) []string {
	var out []string
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			continue
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443", "tcp": "1883", "mqtt": "1883", "ssl": "8883", "tls": "8883", "mqtts": "8883", "ws": "80", "wss": "443"}[strings.ToLower(u.Scheme)]
		}
		if port == "" {
			continue
		}
		out = append(out, net.JoinHostPort(u.Hostname(), port))
	}
	return out
}
