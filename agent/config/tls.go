package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// TLS holds the files the agent uses for TLS brokers (ssl://, tls://,
// mqtts://, wss://) and for enrolling at an https:// central. Config
// block tls { ca_file = "...", cert_file = "...", key_file = "..." } or
// flags -tls-ca-file, -tls-cert-file, -tls-key-file.
type TLS struct {
	CAFile   string // PEM CA to trust instead of the system roots
	CertFile string // PEM client certificate (brokers and central with verify_client)
	KeyFile  string // its PEM private key
}

// tlsKeys are the keys of the tls block.
var tlsKeys = []string{"ca_file", "cert_file", "key_file"}

// Enabled reports whether any TLS file is set.
func (t TLS) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// ClientConfig loads the files into a client tls.Config; nil (the
// defaults: system roots, no certificate) when none is set.
func (t TLS) ClientConfig() (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("%w: tls cert_file and key_file go together: set both (or neither)", ErrInvalid)
	}
	if t.CertFile != "" {
		cert, err := loadKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls cert_file %s / key_file %s: %v", ErrInvalid, t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls ca_file: %v", ErrInvalid, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls ca_file %s holds no PEM certificate", ErrInvalid, t.CAFile)
		}
	}
	return c, nil
}

// setTLS applies a parsed tls { ... } block.
func setTLS(cfg *Config, m map[string]string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "ca_file":
			cfg.TLS.CAFile = m[k]
		case "cert_file":
			cfg.TLS.CertFile = m[k]
		case "key_file":
			cfg.TLS.KeyFile = m[k]
		default:
			return fmt.Errorf("unknown key %q in the tls block (known: %s)", k, strings.Join(tlsKeys, ", "))
		}
	}
	return nil
}

// loadKeyPair is tls.LoadX509KeyPair for ECDSA keys only (what `central
// tls cert create` writes). tls.LoadX509KeyPair would also link RSA and
// Ed25519 signing into the agent: ~200 KB.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	var cert tls.Certificate
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return cert, err
	}
	for {
		var blk *pem.Block
		blk, cb = pem.Decode(cb)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			cert.Certificate = append(cert.Certificate, blk.Bytes)
		}
	}
	if len(cert.Certificate) == 0 {
		return cert, errors.New("cert_file holds no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return cert, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return cert, err
	}
	blk, _ := pem.Decode(kb)
	if blk == nil || blk.Type != "EC PRIVATE KEY" {
		return cert, errors.New("key_file must hold a PEM \"EC PRIVATE KEY\" (the agent supports ECDSA keys only: create them with `central tls cert create -client`, or convert with `openssl ec -in key.pem -out ec-key.pem`)")
	}
	key, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return cert, err
	}
	if !key.PublicKey.Equal(leaf.PublicKey) {
		return cert, errors.New("key_file is not the private key of cert_file")
	}
	cert.PrivateKey, cert.Leaf = key, leaf
	return cert, nil
}
