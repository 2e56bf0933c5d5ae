package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiPrefix is the libpod API version every path is sent under. Podman
// 4.0 and later serve it; 4.3.1 answers unversioned /libpod paths only for
// _ping.
const apiPrefix = "/v4.0.0/libpod"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// client is a minimal HTTP client for the libpod REST API on a unix socket.
// It holds no mutable state of its own; http.Client is safe for concurrent
// use.
type client struct {
	socket string
	http   *http.Client
	// timeout bounds every short request (not long polls or streams).
	timeout time.Duration
}

func newClient(socket string, timeout time.Duration) *client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConns:          8,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       30 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 0, // long polls (wait, logs) have no header deadline
	}
	return &client{socket: socket, http: &http.Client{Transport: tr}, timeout: timeout}
}

// APIError is an error answer of the Podman API.
type APIError struct {
	Status  int    // HTTP status
	Message string // Podman's message
}

func (e *APIError) Error() string {
	return fmt.Sprintf("podman API: %s (HTTP %d)", e.Message, e.Status)
}

func isStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

func isNotFound(err error) bool { return isStatus(err, http.StatusNotFound) }

// isNotRunning reports whether err is Podman refusing to signal a container
// that is not running (4.x answers 500 "container state improper", some
// versions 409).
func isNotRunning(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusConflict || strings.Contains(ae.Message, "state improper") ||
		strings.Contains(ae.Message, "not running")
}

// request sends one request. A short request (stream=false) gets the
// client's timeout; the caller must close the response body. Non-2xx answers
// become *APIError.
func (c *client) request(ctx context.Context, method, path string, q url.Values, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("podman: encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := "http://podman" + apiPrefix + path
	if path == "/_ping" {
		u = "http://podman/libpod/_ping"
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("podman: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("podman API on %s: %s %s: %w", c.socket, method, path, unwrapURLError(err))
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
		defer resp.Body.Close()
		return nil, decodeAPIError(resp)
	}
	return resp, nil
}

// unwrapURLError drops net/http's `Get "http://podman/...":` prefix, which
// names a host that does not exist.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func decodeAPIError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e struct {
		Message string `json:"message"`
		Cause   string `json:"cause"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// call does a short request and decodes a JSON answer into out (nil: discard).
func (c *client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.request(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("podman API: decode answer to %s %s: %w", method, path, err)
	}
	return nil
}
