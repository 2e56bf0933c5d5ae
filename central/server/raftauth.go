package server

import (
	"crypto/ed25519"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// How servers authenticate each other on the Raft transport
// (docs/ha.md, docs/RATIONALE.md "Why is Raft authenticated with TLS
// even with only a join secret?"):
//
//   - tls { ca_file, cert_file, key_file }: mutual TLS. Each side presents
//     its server certificate and accepts only a peer whose certificate
//     ca_file signed for server authentication (what `central tls cert
//     create -server` makes), whatever verify_client says. An agent's or
//     the CLI's client certificate, signed by the same CA, is refused.
//   - join_secret only: TLS 1.3 with a certificate of an Ed25519 key that
//     every server derives from the join secret; each side accepts only a
//     peer that proves it holds that same key.
//   - neither: plain TCP, as before (and a warning when Raft listens
//     beyond loopback).

// raftAuthMode names the ways above, for logs.
const (
	raftAuthTLS    = "tls"
	raftAuthSecret = "join_secret"
	raftAuthNone   = "none"
)

// raftKDFIterations stretches the join secret into the Raft key. It slows
// guessing a short secret offline, without slowing a server's start much.
const raftKDFIterations = 20_000

// minJoinSecretLen is the join secret length below which the server warns.
const minJoinSecretLen = 24

// raftKDFSalt is fixed: the secret is the cluster's, and the key must be
// the same on every server.
var raftKDFSalt = []byte("tether raft transport v1")

var errTLSNoCA = errors.New("server: tls without ca_file cannot authenticate the Raft transport between servers: set tls { ca_file } to the CA that signed the servers' certificates (`central tls ca create`), or set join_secret (-join-secret)")

// raftTLS returns the Raft transport's TLS settings: inbound (server) and
// outbound (client), both nil without TLS and join secret.
func (s *Server) raftTLS() (server, client *tls.Config, mode string, err error) {
	switch {
	case s.tls.server != nil && s.cfg.TLS.CAFile != "":
		server, client = raftTLSFromCA(s.tls)
		return server, client, raftAuthTLS, nil
	case s.cfg.JoinSecret != "":
		server, client, err = raftTLSFromSecret(s.cfg.JoinSecret, time.Now())
		return server, client, raftAuthSecret, err
	case s.tls.server != nil:
		return nil, nil, "", errTLSNoCA
	}
	return nil, nil, raftAuthNone, nil
}

// raftTLSFromCA is mutual TLS with the loaded server certificate and CA.
func raftTLSFromCA(t tlsConfigs) (server, client *tls.Config) {
	pool := t.server.ClientCAs
	server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: t.server.Certificates,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		// The client certificate was verified for client auth; a Raft
		// peer must also hold a server certificate.
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServerCert(cs.PeerCertificates, pool)
		},
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		RootCAs:      pool,
		Certificates: t.server.Certificates,
	}
	return server, client
}

// verifyServerCert checks that chain's leaf is a server certificate that
// pool's CA signed.
func verifyServerCert(chain []*x509.Certificate, pool *x509.CertPool) error {
	if len(chain) == 0 {
		return errors.New("raft: the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("raft: peer certificate %q is not a server certificate of this cluster (make one with `central tls cert create -server`): %w", chain[0].Subject.CommonName, err)
	}
	return nil
}

// raftTLSFromSecret derives an Ed25519 key from the join secret and
// returns TLS 1.3 settings that present a certificate of it and accept
// only a peer presenting the same public key. TLS itself then proves the
// peer holds the private key (its signature over the handshake), with
// fresh keys per connection: a recorded handshake cannot be replayed, and
// what follows is encrypted and integrity-protected.
func raftTLSFromSecret(secret string, now time.Time) (server, client *tls.Config, err error) {
	seed, err := pbkdf2.Key(sha256.New, secret, raftKDFSalt, raftKDFIterations, ed25519.SeedSize)
	if err != nil {
		return nil, nil, fmt.Errorf("server: derive the Raft key from join_secret: %w", err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tether raft peer"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(100, 0, 0), // dates are not checked: samePeer pins the key
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return nil, nil, fmt.Errorf("server: make the Raft certificate from join_secret: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	samePeer := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) != 1 {
			return fmt.Errorf("raft: the peer sent %d certificates, want its join_secret one", len(raw))
		}
		c, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return fmt.Errorf("raft: the peer's certificate: %w", err)
		}
		if got, ok := c.PublicKey.(ed25519.PublicKey); !ok || !got.Equal(pub) {
			return errors.New("raft: the peer does not know this cluster's join_secret (every server needs the same join_secret)")
		}
		return nil
	}
	server = &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: samePeer,
	}
	client = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// No chain to verify: samePeer pins the key instead.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: samePeer,
	}
	return server, client, nil
}
