package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults of `central tls`, as `nomad tls`.
const (
	defaultTLSDomain = "tether"
	defaultCADays    = 5 * 365
	defaultCertDays  = 365
)

func tlsVerbs() map[string]verb {
	return map[string]verb{
		"tls ca create":   {"Create a CA for TLS: <domain>-agent-ca.pem and <domain>-agent-ca-key.pem", "[-days N] [-domain D] [-out DIR]", (*env).tlsCACreate},
		"tls cert create": {"Create a server or client certificate signed by the CA", "-server|-client [-ca FILE] [-key FILE] [-region R] [-additional-dnsname N] [-additional-ipaddress IP] [-days N] [-out DIR]", (*env).tlsCertCreate},
	}
}

// tlsFlagSet is a flag set without the API flags: these verbs work offline.
func (e *env) tlsFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("central "+e.verb, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: central %s %s\n\n%s\n\nOptions:\n", e.verb, e.verbArgs, verbs()[e.verb].synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (e *env) tlsCACreate(args []string) int {
	fs := e.tlsFlagSet()
	days := fs.Int("days", defaultCADays, "days the CA is valid")
	domain := fs.String("domain", defaultTLSDomain, "domain of the cluster's names (server.<region>.<domain>); prefixes the file names")
	out := fs.String("out", ".", "directory to write the files to")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if fs.NArg() > 0 {
		return e.usageFail("in tls ca create", fmt.Errorf("unexpected argument %q: it takes only flags", fs.Arg(0)))
	}
	if *days < 1 || *domain == "" || strings.ContainsAny(*domain, "/ ") {
		return e.usageFail("in tls ca create", errors.New("-days must be at least 1 and -domain a DNS name such as tether"))
	}
	certPEM, keyPEM, err := newCA(*domain, time.Now(), *days)
	if err != nil {
		return e.fail("creating the CA", err)
	}
	certFile := filepath.Join(*out, *domain+"-agent-ca.pem")
	keyFile := filepath.Join(*out, *domain+"-agent-ca-key.pem")
	if err := writeNew(certFile, certPEM, 0o644, keyFile, keyPEM); err != nil {
		return e.fail("writing the CA", err)
	}
	fmt.Fprintf(e.stdout, "==> CA certificate saved to: %s\n==> CA certificate key saved to: %s\n", certFile, keyFile)
	return exitOK
}

func (e *env) tlsCertCreate(args []string) int {
	fs := e.tlsFlagSet()
	var dnsNames, ips listValue
	server := fs.Bool("server", false, "a server certificate (HTTP API, embedded broker; also a client certificate between servers)")
	client := fs.Bool("client", false, "a client certificate (agents, the CLI, central's client of an external broker)")
	domain := fs.String("domain", defaultTLSDomain, "domain of the cluster's names")
	caFile := fs.String("ca", "", "CA certificate (default <domain>-agent-ca.pem in -out)")
	keyFile := fs.String("key", "", "CA private key (default <domain>-agent-ca-key.pem in -out)")
	region := fs.String("region", "global", "region: the certificate names server.<region>.<domain> or client.<region>.<domain>")
	days := fs.Int("days", defaultCertDays, "days the certificate is valid")
	out := fs.String("out", ".", "directory to read the CA from and write the files to")
	fs.Var(&dnsNames, "additional-dnsname", "another DNS name for the certificate, repeatable")
	fs.Var(&ips, "additional-ipaddress", "another IP address for the certificate, repeatable")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	bad := func(err error) int { return e.usageFail("in tls cert create", err) }
	switch {
	case fs.NArg() > 0:
		return bad(fmt.Errorf("unexpected argument %q: it takes only flags", fs.Arg(0)))
	case *server == *client:
		return bad(errors.New("give exactly one of -server or -client"))
	case *days < 1 || *region == "" || *domain == "":
		return bad(errors.New("-days must be at least 1, -region and -domain non-empty"))
	}
	var ipAddrs []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return bad(fmt.Errorf("-additional-ipaddress %q is not an IP address", s))
		}
		ipAddrs = append(ipAddrs, ip)
	}
	if *caFile == "" {
		*caFile = filepath.Join(*out, *domain+"-agent-ca.pem")
	}
	if *keyFile == "" {
		*keyFile = filepath.Join(*out, *domain+"-agent-ca-key.pem")
	}
	ca, caKey, err := loadCA(*caFile, *keyFile)
	if err != nil {
		return e.fail("loading the CA", fmt.Errorf("%w (create one with `central tls ca create`, or point -ca and -key at yours)", err))
	}
	kind := "client"
	if *server {
		kind = "server"
	}
	req := certRequest{Kind: kind, Region: *region, Domain: *domain, DNSNames: dnsNames, IPs: ipAddrs, Days: *days}
	certPEM, keyPEM, err := newCert(ca, caKey, req, time.Now())
	if err != nil {
		return e.fail("creating the certificate", err)
	}
	base := filepath.Join(*out, fmt.Sprintf("%s-%s-%s", *region, kind, *domain))
	if err := writeNew(base+".pem", certPEM, 0o644, base+"-key.pem", keyPEM); err != nil {
		return e.fail("writing the certificate", err)
	}
	fmt.Fprintf(e.stdout, "==> Using CA file %s and CA key %s\n==> Certificate saved to: %s.pem\n==> Certificate key saved to: %s-key.pem\n", *caFile, *keyFile, base, base)
	return exitOK
}

func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// certRequest describes a leaf certificate.
type certRequest struct {
	Kind     string // "server" or "client"
	Region   string
	Domain   string
	DNSNames []string
	IPs      []net.IP
	Days     int
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// newCA creates a self-signed ECDSA P-256 CA certificate and its key, PEM encoded.
func newCA(domain string, now time.Time, days int) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("Tether Agent CA %x", sn.Bytes()[:4]), Organization: []string{"Tether"}, OrganizationalUnit: []string{domain}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, days),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

// newCert creates a leaf certificate for req signed by ca.
func newCert(ca *x509.Certificate, caKey crypto.Signer, req certRequest, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	name := fmt.Sprintf("%s.%s.%s", req.Kind, req.Region, req.Domain)
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, req.Days),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:              append([]string{name, "localhost"}, req.DNSNames...),
		IPAddresses:           append([]net.IP{net.IPv4(127, 0, 0, 1)}, req.IPs...),
	}
	if req.Kind == "server" {
		// Servers also call each other (forwarded writes, joins) and
		// present this certificate as clients.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		return nil, nil, fmt.Errorf("the certificate would outlive its CA (valid until %s): lower -days or create a new CA", ca.NotAfter.Format(time.DateOnly))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	return encode(der, key)
}

func encode(der []byte, key *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// loadCA reads a CA certificate and its private key (EC or PKCS#8 PEM).
func loadCA(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(cb)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", certFile)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	kblk, _ := pem.Decode(kb)
	if kblk == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM private key", keyFile)
	}
	var key any
	switch kblk.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kblk.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(kblk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kblk.Bytes)
	default:
		err = fmt.Errorf("PEM block %q is not a private key", kblk.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: unsupported key type %T", keyFile, key)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%s is not the private key of %s", keyFile, certFile)
	}
	return ca, signer, nil
}

// writeNew writes a certificate (mode certMode) and its key (0600), refusing
// to overwrite either.
func writeNew(certFile string, certPEM []byte, certMode os.FileMode, keyFile string, keyPEM []byte) error {
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already exists: move it away or write elsewhere with -out", f)
		}
	}
	if err := writeExcl(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeExcl(certFile, certPEM, certMode); err != nil {
		os.Remove(keyFile)
		return err
	}
	return nil
}

func writeExcl(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
