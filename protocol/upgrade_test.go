package protocol

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func testUpgrade(t *testing.T, keys ...ed25519.PrivateKey) *AgentUpgrade {
	t.Helper()
	sum := sha256.Sum256([]byte("agent binary"))
	u := &AgentUpgrade{Version: "1.2.0", Target: TargetLinuxARMv6, SHA256: sum[:], Size: 12,
		URLs:      []string{"https://127.0.0.1:7600/v1/agent/release/1.2.0/linux/armv6", "http://example.test/agent"},
		RolloutID: "r1", HealthWindowMs: 30_000}
	sig, err := SignRelease(u.Manifest(), keys...)
	if err != nil {
		t.Fatal(err)
	}
	u.ReleaseSig = sig
	return u
}

func TestSignVerifyRelease(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	pub2, priv2, _ := ed25519.GenerateKey(nil)
	u := testUpgrade(t, priv)
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := VerifyRelease(u.Manifest(), u.ReleaseSig, pub); err != nil {
		t.Fatalf("signed: %v", err)
	}
	if err := VerifyRelease(u.Manifest(), u.ReleaseSig, pub2); !errors.Is(err, ErrReleaseSignature) {
		t.Fatalf("another key: %v", err)
	}
	// Every field of the manifest is signed.
	for name, change := range map[string]func(m *ReleaseManifest){
		"version": func(m *ReleaseManifest) { m.Version = "1.2.1" },
		"target":  func(m *ReleaseManifest) { m.Target = TargetLinuxARMv7 },
		"sha256":  func(m *ReleaseManifest) { m.SHA256 = bytes.Repeat([]byte{1}, 32) },
		"size":    func(m *ReleaseManifest) { m.Size++ },
	} {
		m := u.Manifest()
		change(&m)
		if err := VerifyRelease(m, u.ReleaseSig, pub); !errors.Is(err, ErrReleaseSignature) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if err := VerifyRelease(u.Manifest(), nil, pub); !errors.Is(err, ErrReleaseSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	// Co-signed after a rotation: either key verifies.
	co := testUpgrade(t, priv2, priv)
	for _, k := range []ed25519.PublicKey{pub, pub2} {
		if err := VerifyRelease(co.Manifest(), co.ReleaseSig, k); err != nil {
			t.Fatalf("co-signed: %v", err)
		}
	}
	// A desired state's signature over the same bytes is not a release
	// signature: the domain separates them.
	body, _ := Encode(u.Manifest())
	if err := VerifyRelease(u.Manifest(), ed25519.Sign(priv, body), pub); !errors.Is(err, ErrReleaseSignature) {
		t.Fatalf("signature without the domain accepted: %v", err)
	}
}

func TestUpgradeRoundTripInDesired(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	d := &Desired{V: Version, NodeID: "n1", Index: 3, Upgrade: testUpgrade(t, priv)}
	if err := SignDesired(d, priv); err != nil {
		t.Fatal(err)
	}
	b, _ := Encode(d)
	var got Desired
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := VerifyDesired(&got, pub); err != nil {
		t.Fatal(err)
	}
	if got.Upgrade == nil || got.Upgrade.Version != "1.2.0" || got.Upgrade.Window() != 30_000 || len(got.Upgrade.URLs) != 2 {
		t.Fatalf("upgrade after round trip: %+v", got.Upgrade)
	}
	// The upgrade sits inside the signed body.
	got.Upgrade.URLs[0] = "https://evil.test/agent"
	if err := VerifyDesired(&got, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered upgrade: %v", err)
	}
	h := &Hello{V: Version, NodeID: "n1", Reattached: true,
		UpgradeFailed: &UpgradeFailure{Version: "1.2.0", Reason: "not healthy within 30s", Time: 1, RolloutID: "r1", RolledBack: true}}
	b, _ = Encode(h)
	var hg Hello
	if err := Decode(b, &hg); err != nil {
		t.Fatal(err)
	}
	if !hg.Reattached || hg.UpgradeFailed == nil || *hg.UpgradeFailed != *h.UpgradeFailed {
		t.Fatalf("hello after round trip: %+v", hg)
	}
}

// An agent built before Desired.Upgrade refuses a desired state with it:
// central sends it only to agents that advertise AttrUpgrade.
func TestUpgradeKeyUnknownToOlderDecoders(t *testing.T) {
	type oldDesired struct {
		V      int            `cbor:"0,keyasint"`
		NodeID string         `cbor:"1,keyasint"`
		Index  uint64         `cbor:"2,keyasint"`
		Time   int64          `cbor:"3,keyasint"`
		Allocs []DesiredAlloc `cbor:"4,keyasint"`
		Sig    []byte         `cbor:"5,keyasint,omitempty"`
		Kept   *KeptAllocs    `cbor:"6,keyasint,omitempty"`
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	b, _ := Encode(&Desired{V: Version, NodeID: "n", Upgrade: testUpgrade(t, priv)})
	var old oldDesired
	if err := DecodeValue(b, &old); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an older decoder accepted the upgrade key: %v", err)
	}
}

func TestUpgradeValidate(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	for name, c := range map[string]struct {
		change func(u *AgentUpgrade)
		want   string
	}{
		"no version":      {func(u *AgentUpgrade) { u.Version = "" }, "version"},
		"slash version":   {func(u *AgentUpgrade) { u.Version = "../x" }, "version"},
		"long version":    {func(u *AgentUpgrade) { u.Version = strings.Repeat("1", MaxUpgradeVersion+1) }, "version"},
		"target":          {func(u *AgentUpgrade) { u.Target = "linux/mips" }, "target"},
		"short hash":      {func(u *AgentUpgrade) { u.SHA256 = u.SHA256[:31] }, "SHA-256"},
		"no size":         {func(u *AgentUpgrade) { u.Size = 0 }, "size"},
		"huge size":       {func(u *AgentUpgrade) { u.Size = MaxAgentBinary + 1 }, "size"},
		"no url":          {func(u *AgentUpgrade) { u.URLs = nil }, "URLs"},
		"many urls":       {func(u *AgentUpgrade) { u.URLs = make([]string, MaxUpgradeURLs+1) }, "URLs"},
		"file url":        {func(u *AgentUpgrade) { u.URLs = []string{"file:///etc/passwd"} }, "http(s)"},
		"long url":        {func(u *AgentUpgrade) { u.URLs = []string{"https://h/" + strings.Repeat("a", MaxUpgradeURL)} }, "URL of"},
		"no sig":          {func(u *AgentUpgrade) { u.ReleaseSig = nil }, "signature"},
		"odd sig":         {func(u *AgentUpgrade) { u.ReleaseSig = u.ReleaseSig[:63] }, "signature"},
		"many sigs":       {func(u *AgentUpgrade) { u.ReleaseSig = bytes.Repeat(u.ReleaseSig, MaxUpgradeSigs+1) }, "signature"},
		"long rollout":    {func(u *AgentUpgrade) { u.RolloutID = strings.Repeat("r", MaxRolloutID+1) }, "rollout"},
		"short window":    {func(u *AgentUpgrade) { u.HealthWindowMs = MinHealthWindowMs - 1 }, "health window"},
		"too long window": {func(u *AgentUpgrade) { u.HealthWindowMs = MaxHealthWindowMs + 1 }, "health window"},
	} {
		u := testUpgrade(t, priv)
		c.change(u)
		if err := u.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error about %q", name, err, c.want)
		}
	}
	u := testUpgrade(t, priv)
	u.HealthWindowMs = 0
	if u.Validate() != nil || u.Window() != DefaultHealthWindowMs {
		t.Fatalf("no window: %v, %d", u.Validate(), u.Window())
	}
	if _, err := SignRelease(ReleaseManifest{Version: "1", Target: TargetLinuxAMD64, SHA256: make([]byte, 32), Size: 1}); err == nil {
		t.Fatal("signed with no key")
	}
	f := &UpgradeFailure{Version: "1", Reason: TruncReason(strings.Repeat("é", MaxUpgradeReason))}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if b, _ := Encode(f); DecodeValue(b, new(UpgradeFailure)) != nil {
		t.Fatal("a truncated reason is not valid UTF-8")
	}
}

// An upgrade order and a failure report stay small next to the limits.
func TestUpgradeSizes(t *testing.T) {
	_, p1, _ := ed25519.GenerateKey(nil)
	_, p2, _ := ed25519.GenerateKey(nil)
	u := testUpgrade(t, p1, p2)
	u.URLs = []string{"https://central-1.example.com:7600/v1/agent/release/1.2.0/linux/armv6",
		"https://central-2.example.com:7600/v1/agent/release/1.2.0/linux/armv6",
		"https://central-3.example.com:7600/v1/agent/release/1.2.0/linux/armv6"}
	b, _ := Encode(u)
	if len(b) > 512 {
		t.Fatalf("an upgrade order of three servers and two signatures takes %d bytes, want at most 512", len(b))
	}
	f, _ := Encode(&UpgradeFailure{Version: u.Version, Reason: strings.Repeat("x", MaxUpgradeReason), Time: 1 << 42, RolloutID: strings.Repeat("r", MaxRolloutID), RolledBack: true})
	if len(f) > 700 {
		t.Fatalf("the largest failure report takes %d bytes", len(f))
	}
}
