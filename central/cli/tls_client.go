package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// tlsFlags registers -ca-cert, -client-cert and -client-key (defaults
// $CENTRAL_CACERT, $CENTRAL_CLIENT_CERT, $CENTRAL_CLIENT_KEY) and makes
// the env's HTTP client use them for https:// addresses.
func (e *env) tlsFlags(fs *flag.FlagSet) {
	t := &tlsTransport{getenv: e.getenv}
	e.http.Transport = t
	fs.StringVar(&t.caCert, "ca-cert", "", "PEM CA that signed the server's certificate, for an https:// address (default $CENTRAL_CACERT)")
	fs.StringVar(&t.clientCert, "client-cert", "", "PEM client certificate, when the servers set tls verify_client (default $CENTRAL_CLIENT_CERT)")
	fs.StringVar(&t.clientKey, "client-key", "", "PEM private key of -client-cert (default $CENTRAL_CLIENT_KEY)")
}

// tlsTransport loads the TLS files on the first request (after the flags
// are parsed) and explains TLS failures in terms of the CLI's settings.
type tlsTransport struct {
	getenv                        func(string) string
	caCert, clientCert, clientKey string

	once sync.Once // builds rt and err
	rt   http.RoundTripper
	err  error
}

func (t *tlsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.build)
	if t.err != nil {
		return nil, t.err
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, explainTLS(err)
	}
	return resp, nil
}

func (t *tlsTransport) build() {
	pick := func(flagVal, envKey string) string {
		if flagVal != "" {
			return flagVal
		}
		return t.getenv(envKey)
	}
	tc, err := clientTLSConfig(pick(t.caCert, "CENTRAL_CACERT"), pick(t.clientCert, "CENTRAL_CLIENT_CERT"), pick(t.clientKey, "CENTRAL_CLIENT_KEY"))
	if err != nil {
		t.err = err
		return
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.TLSHandshakeTimeout = 10 * time.Second
	// HTTP/1.1: over HTTP/2 a refused client certificate surfaces as
	// "http2: client conn could not be established" instead of the TLS
	// alert that tlsHint turns into advice. The CLI gains nothing from h2.
	tr.ForceAttemptHTTP2 = false
	t.rt = tr
}

// clientTLSConfig loads the CLI's TLS files; nil (Go's defaults) when
// none is set.
func clientTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file (-ca-cert or CENTRAL_CACERT): %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s (-ca-cert or CENTRAL_CACERT) holds no PEM certificate", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("a client certificate needs its key: set both -client-cert and -client-key (or CENTRAL_CLIENT_CERT and CENTRAL_CLIENT_KEY)")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate %s / key %s: %w", certFile, keyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// explainTLS adds the fix to a TLS failure.
func explainTLS(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%w (the server's certificate is not signed by a CA the CLI trusts: set CENTRAL_CACERT or -ca-cert to the cluster's CA file)", err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("%w (connect by a name the certificate holds, or add this one with `central tls cert create -server -additional-dnsname/-additional-ipaddress`)", err)
	case errors.As(err, &recErr):
		return fmt.Errorf("%w (the server does not speak TLS: use an http:// address)", err)
	case strings.Contains(msg, "tls: certificate required"), strings.Contains(msg, "tls: bad certificate"), strings.Contains(msg, "tls: unknown certificate authority"):
		return fmt.Errorf("%w (the server requires a client certificate signed by its CA: set CENTRAL_CLIENT_CERT and CENTRAL_CLIENT_KEY, or -client-cert and -client-key)", err)
	}
	return err
}
