package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/protocol"
)

// EnrolmentFile is the file in data_dir (mode 0600) that holds what
// central issued at enrolment.
const EnrolmentFile = "enrolment.json"

// ErrNoCentral is returned for a join token without central's address.
var ErrNoCentral = errors.New("agent: a join token needs central's HTTP address to enrol at: set -central (config key central)")

// Enrolment is what central issues an agent for its join token.
type Enrolment struct {
	NodeID           string `json:"node_id"`
	MQTTUsername     string `json:"mqtt_username"`
	MQTTPassword     string `json:"mqtt_password"`
	SigningPublicKey []byte `json:"signing_public_key"` // pinned: desired state must be signed with it
}

// loadOrEnrol returns the stored enrolment, or enrols with the join token
// and stores the answer. Without a join token and nothing stored it
// returns nil: the agent runs unauthenticated, as before enrolment existed.
func loadOrEnrol(ctx context.Context, cfg *config.Config) (*Enrolment, error) {
	path := filepath.Join(cfg.DataDir, EnrolmentFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var e Enrolment
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("agent: enrolment file %s is corrupt (%v): delete it and enrol again with -join-token", path, err)
		}
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("agent: enrolment file %s: %w", path, err)
		}
		return &e, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("agent: read enrolment file: %w", err)
	case cfg.JoinToken == "":
		return nil, nil
	case cfg.Central == "":
		return nil, ErrNoCentral
	}
	e, err := enrol(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b, _ = json.Marshal(e)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, fmt.Errorf("agent: store enrolment: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("agent: store enrolment: %w", err)
	}
	return e, nil
}

func (e *Enrolment) check() error {
	if e.NodeID == "" || e.MQTTUsername == "" || len(e.SigningPublicKey) != ed25519.PublicKeySize {
		return errors.New("it lacks the node id, the MQTT login or central's signing key")
	}
	if err := protocol.CheckID("node id", e.NodeID); err != nil {
		return err
	}
	return nil
}

// enrol calls POST /v1/enroll on central.
func enrol(ctx context.Context, cfg *config.Config) (*Enrolment, error) {
	body, _ := json.Marshal(map[string]string{"join_token": cfg.JoinToken, "name": cfg.Name})
	url := strings.TrimSuffix(cfg.Central, "/") + "/v1/enroll"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("agent: enrol at %s: %w (check -central)", cfg.Central, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client, err := enrolClient(cfg)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: enrol at %s: %w", cfg.Central, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("agent: enrol at %s: %s: %s", cfg.Central, resp.Status, strings.TrimSpace(string(rb)))
	}
	var e Enrolment
	if err := json.Unmarshal(rb, &e); err != nil {
		return nil, fmt.Errorf("agent: enrol at %s: bad answer: %w", cfg.Central, err)
	}
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("agent: enrol at %s: bad answer: %w", cfg.Central, err)
	}
	return &e, nil
}

// enrolClient is the HTTP client for enrolment: it trusts the tls block's
// CA (and presents its certificate) for an https:// central.
func enrolClient(cfg *config.Config) (*http.Client, error) {
	tc, err := cfg.TLS.ClientConfig()
	if err != nil || tc == nil {
		return http.DefaultClient, err
	}
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tc,
		TLSHandshakeTimeout: 10 * time.Second}}, nil
}
