package protocol

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Agent upgrades over the air (docs/upgrades.md). Central orders an agent
// to run another build with Desired.Upgrade, inside the signed desired
// state, and only for agents whose hello carries AttrUpgrade (an older
// agent refuses the field). The agent downloads the binary, checks its
// size, its SHA-256 and ReleaseSig (central's signature over the release
// manifest, made when the release was added) before it ever runs it,
// swaps it in beside the old one and re-execs itself; a watchdog started
// from the old binary puts the old one back when the new agent does not
// come up healthy within HealthWindowMs. The agent then reports the
// failure in its hello (Hello.UpgradeFailed) and does not try that version
// again for that rollout.

// AttrUpgrade is the hello attribute by which an agent tells central it
// understands Desired.Upgrade and sends Hello.UpgradeFailed and
// Hello.Reattached; its value is "1". An agent advertises it only when it
// can verify a release (it has central's pinned key, from enrolment) and
// knows its own target.
const AttrUpgrade = "tether.upgrade"

// Agent build targets an upgrade may name ("GOOS/GOARCH", with the ARM
// version for 32-bit ARM).
const (
	TargetLinuxAMD64 = "linux/amd64"
	TargetLinuxARM64 = "linux/arm64"
	TargetLinuxARMv7 = "linux/armv7"
	TargetLinuxARMv6 = "linux/armv6"
)

// Targets lists the targets an upgrade may name.
var Targets = []string{TargetLinuxAMD64, TargetLinuxARM64, TargetLinuxARMv7, TargetLinuxARMv6}

// Limits of an upgrade order and of a failure report.
const (
	MaxUpgradeVersion = 64       // bytes of a version string
	MaxUpgradeURLs    = 8        // download locations, tried in order
	MaxUpgradeURL     = 2048     // bytes of one URL
	MaxUpgradeSigs    = 4        // signatures in ReleaseSig
	MaxAgentBinary    = 64 << 20 // bytes of an agent binary
	MaxRolloutID      = 64       // bytes of a rollout ID
	MaxUpgradeReason  = 512      // bytes of UpgradeFailure.Reason

	// The health window: the new agent must be healthy within it.
	MinHealthWindowMs     = 5_000
	MaxHealthWindowMs     = 3_600_000
	DefaultHealthWindowMs = 120_000 // when HealthWindowMs is 0
)

// AgentUpgrade is central's order to run another agent build (Desired key
// 7). Central sends one per node: the release for the node's target.
type AgentUpgrade struct {
	Version string `cbor:"0,keyasint"`
	Target  string `cbor:"1,keyasint"` // one of Targets
	SHA256  []byte `cbor:"2,keyasint"` // of the binary, 32 bytes
	Size    int64  `cbor:"3,keyasint"` // of the binary, bytes
	// URLs are where to download the binary, tried in order: central's
	// GET /v1/agent/release/<version>/<target> on each server (HTTPS
	// with the agent's CA settings; Range requests resume a cut
	// download), or any http(s) URL an operator gave.
	URLs []string `cbor:"4,keyasint"`
	// ReleaseSig holds central's Ed25519 signatures (64 bytes each) over
	// ReleaseManifestBody of this release; the agent needs one by its
	// pinned key (see SignRelease).
	ReleaseSig []byte `cbor:"5,keyasint"`
	// AllowDowngrade lets the agent install a version older than its own.
	AllowDowngrade bool   `cbor:"6,keyasint,omitempty"`
	RolloutID      string `cbor:"7,keyasint,omitempty"`
	// HealthWindowMs is how long the new agent has to become healthy
	// (connected to a broker, state read, allocations re-attached); 0:
	// DefaultHealthWindowMs.
	HealthWindowMs int64 `cbor:"8,keyasint,omitempty"`
}

// Manifest returns the release manifest the upgrade's ReleaseSig signs.
func (u *AgentUpgrade) Manifest() ReleaseManifest {
	return ReleaseManifest{Version: u.Version, Target: u.Target, SHA256: u.SHA256, Size: u.Size}
}

// Window returns the health window in milliseconds, the default for 0.
func (u *AgentUpgrade) Window() int64 {
	if u.HealthWindowMs == 0 {
		return DefaultHealthWindowMs
	}
	return u.HealthWindowMs
}

// ValidTarget reports whether t is one of Targets.
func ValidTarget(t string) bool {
	for _, x := range Targets {
		if t == x {
			return true
		}
	}
	return false
}

// Validate checks an upgrade order's fields against the limits. It does
// not check the signature (VerifyRelease) nor compare versions.
func (u *AgentUpgrade) Validate() error {
	if err := u.Manifest().Validate(); err != nil {
		return err
	}
	if len(u.URLs) == 0 || len(u.URLs) > MaxUpgradeURLs {
		return fmt.Errorf("upgrade: %d download URLs, want 1 to %d", len(u.URLs), MaxUpgradeURLs)
	}
	for _, s := range u.URLs {
		if len(s) > MaxUpgradeURL {
			return fmt.Errorf("upgrade: a download URL of %d bytes, at most %d", len(s), MaxUpgradeURL)
		}
		p, err := url.Parse(s)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return fmt.Errorf("upgrade: download URL %q is not an http(s) URL with a host", s)
		}
	}
	if n := len(u.ReleaseSig); n == 0 || n%ed25519.SignatureSize != 0 || n > MaxUpgradeSigs*ed25519.SignatureSize {
		return fmt.Errorf("upgrade: release signature of %d bytes, want 1 to %d signatures of %d", n, MaxUpgradeSigs, ed25519.SignatureSize)
	}
	if len(u.RolloutID) > MaxRolloutID {
		return fmt.Errorf("upgrade: rollout ID of %d bytes, at most %d", len(u.RolloutID), MaxRolloutID)
	}
	if w := u.HealthWindowMs; w != 0 && (w < MinHealthWindowMs || w > MaxHealthWindowMs) {
		return fmt.Errorf("upgrade: health window %d ms, want %d to %d", w, MinHealthWindowMs, MaxHealthWindowMs)
	}
	return nil
}

// ReleaseManifest is what central signs when a release is added: one
// binary of one version for one target.
type ReleaseManifest struct {
	Version string `cbor:"0,keyasint"`
	Target  string `cbor:"1,keyasint"`
	SHA256  []byte `cbor:"2,keyasint"` // 32 bytes
	Size    int64  `cbor:"3,keyasint"`
}

// Validate checks the manifest's fields against the limits.
func (m ReleaseManifest) Validate() error {
	if m.Version == "" || len(m.Version) > MaxUpgradeVersion || strings.ContainsAny(m.Version, "/ \t\r\n") {
		return fmt.Errorf("release: version %q: want 1 to %d bytes without '/' or spaces", m.Version, MaxUpgradeVersion)
	}
	if !ValidTarget(m.Target) {
		return fmt.Errorf("release: target %q, want one of %s", m.Target, strings.Join(Targets, ", "))
	}
	if len(m.SHA256) != 32 {
		return fmt.Errorf("release: SHA-256 of %d bytes, want 32", len(m.SHA256))
	}
	if m.Size <= 0 || m.Size > MaxAgentBinary {
		return fmt.Errorf("release: size %d bytes, want 1 to %d", m.Size, MaxAgentBinary)
	}
	return nil
}

// releaseDomain separates release signatures from every other signed body.
const releaseDomain = "tether-agent-release-v1\x00"

// ReleaseManifestBody is the canonical bytes central signs for a release:
// a domain string followed by the manifest's deterministic CBOR encoding.
func ReleaseManifestBody(m ReleaseManifest) ([]byte, error) {
	enc, err := Encode(m)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode release manifest: %w", err)
	}
	return append([]byte(releaseDomain), enc...), nil
}

// ErrReleaseSignature is returned when no signature of a release verifies
// with the agent's pinned key.
var ErrReleaseSignature = errors.New("protocol: release signature does not verify with central's pinned key")

// SignRelease returns the signatures of m by keys, concatenated, the
// active key first (as for desired states, the previous key co-signs
// after a rotation). Central signs when a release is added; an agent
// needs a signature by the key it has pinned, so after a rotation
// central signs its releases again with the new key before ordering them.
func SignRelease(m ReleaseManifest, keys ...ed25519.PrivateKey) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if len(keys) == 0 || len(keys) > MaxUpgradeSigs {
		return nil, fmt.Errorf("protocol: sign a release with 1 to %d keys, not %d", MaxUpgradeSigs, len(keys))
	}
	body, err := ReleaseManifestBody(m)
	if err != nil {
		return nil, err
	}
	var sig []byte
	for _, k := range keys {
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("protocol: signing key has %d bytes, want %d", len(k), ed25519.PrivateKeySize)
		}
		sig = append(sig, ed25519.Sign(k, body)...)
	}
	return sig, nil
}

// VerifyRelease checks that one of the signatures in sig is pub's over m.
func VerifyRelease(m ReleaseManifest, sig []byte, pub ed25519.PublicKey) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrReleaseSignature, err)
	}
	if len(sig) == 0 {
		return fmt.Errorf("%w: the release is not signed", ErrReleaseSignature)
	}
	if len(pub) != ed25519.PublicKeySize || len(sig)%ed25519.SignatureSize != 0 || len(sig) > MaxUpgradeSigs*ed25519.SignatureSize {
		return ErrReleaseSignature
	}
	body, err := ReleaseManifestBody(m)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrReleaseSignature, err)
	}
	for i := 0; i < len(sig); i += ed25519.SignatureSize {
		if ed25519.Verify(pub, body, sig[i:i+ed25519.SignatureSize]) {
			return nil
		}
	}
	return ErrReleaseSignature
}

// UpgradeFailure is an agent's report that an upgrade did not take
// (Hello key 14): the download or its verification failed, the version
// was refused, or the watchdog put the previous binary back because the
// new one did not become healthy. The agent keeps sending it in every
// hello until central orders another upgrade, and does not try Version
// again for RolloutID.
type UpgradeFailure struct {
	Version   string `cbor:"0,keyasint"`
	Reason    string `cbor:"1,keyasint"`
	Time      int64  `cbor:"2,keyasint"`           // unix ms on the agent's clock
	RolloutID string `cbor:"3,keyasint,omitempty"` // the rollout that ordered it
	// RolledBack is set when the new binary had been installed and the
	// watchdog restored the previous one (else it never ran).
	RolledBack bool `cbor:"4,keyasint,omitempty"`
}

// Validate checks the report's fields against the limits.
func (f *UpgradeFailure) Validate() error {
	if len(f.Version) > MaxUpgradeVersion || len(f.Reason) > MaxUpgradeReason || len(f.RolloutID) > MaxRolloutID {
		return fmt.Errorf("upgrade failure: version, reason or rollout ID over %d/%d/%d bytes", MaxUpgradeVersion, MaxUpgradeReason, MaxRolloutID)
	}
	return nil
}

// TruncReason cuts a failure reason to MaxUpgradeReason bytes.
func TruncReason(s string) string {
	if len(s) <= MaxUpgradeReason {
		return s
	}
	return strings.ToValidUTF8(s[:MaxUpgradeReason-3], "") + "..."
}
