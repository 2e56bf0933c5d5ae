package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
)

// Signing: central signs every Desired and ServiceSet it publishes with
// Ed25519 over the message encoded (Encode) with Sig empty. Sig holds one
// 64-byte signature per key central signs with (the active key first; during
// a key rotation the previous key co-signs), so an agent that pinned either
// key accepts the message.

var (
	// ErrUnsigned is returned for a message without a signature when one is required.
	ErrUnsigned = errors.New("protocol: message is not signed")
	// ErrBadSignature is returned when no signature verifies with the pinned key.
	ErrBadSignature = errors.New("protocol: signature does not verify with central's pinned key")
)

// SignDesired sets d.Sig to the signatures of d by keys (nil keys: Sig cleared).
func SignDesired(d *Desired, keys ...ed25519.PrivateKey) error {
	d.Sig = nil
	sig, err := signBody(d, keys)
	d.Sig = sig
	return err
}

// VerifyDesired checks d.Sig against the pinned public key.
func VerifyDesired(d *Desired, pub ed25519.PublicKey) error {
	c := *d
	c.Sig = nil
	return verifyBody(&c, d.Sig, pub)
}

// SignServiceSet sets s.Sig to the signatures of s by keys.
func SignServiceSet(s *ServiceSet, keys ...ed25519.PrivateKey) error {
	s.Sig = nil
	sig, err := signBody(s, keys)
	s.Sig = sig
	return err
}

// VerifyServiceSet checks s.Sig against the pinned public key.
func VerifyServiceSet(s *ServiceSet, pub ed25519.PublicKey) error {
	c := *s
	c.Sig = nil
	return verifyBody(&c, s.Sig, pub)
}

func signBody(v any, keys []ed25519.PrivateKey) ([]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	body, err := Encode(v)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode message to sign: %w", err)
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

func verifyBody(v any, sig []byte, pub ed25519.PublicKey) error {
	if len(sig) == 0 {
		return ErrUnsigned
	}
	if len(pub) != ed25519.PublicKeySize || len(sig)%ed25519.SignatureSize != 0 || len(sig) > 4*ed25519.SignatureSize {
		return ErrBadSignature
	}
	body, err := Encode(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	for i := 0; i < len(sig); i += ed25519.SignatureSize {
		if ed25519.Verify(pub, body, sig[i:i+ed25519.SignatureSize]) {
			return nil
		}
	}
	return ErrBadSignature
}

// Key chain: every signing key central ever made active, oldest first. Key
// N (N > 1) carries an endorsement: key N-1's Ed25519 signature over
// EndorsementBody(N, key N). An agent that pinned key K trusts a newer key
// only through an unbroken run of endorsements from K to it
// (VerifyKeyChain), so central can rotate any number of times and agents
// follow without re-enrolling.

// MaxKeyChain bounds the links VerifyKeyChain accepts (one per rotation).
const MaxKeyChain = 4096

// ErrKeyChain is returned for a key chain that does not lead from the
// pinned key to a newer key through valid endorsements.
var ErrKeyChain = errors.New("protocol: central's key chain does not verify from the pinned key")

// KeyLink is one key of the chain, as GET /v1/security/keyring lists it.
type KeyLink struct {
	Index       uint64 `json:"index"`
	PublicKey   []byte `json:"public_key"`            // Ed25519, base64 in JSON
	Endorsement []byte `json:"endorsement,omitempty"` // by key Index-1; empty for the first key
}

// endorsementDomain separates endorsements from every other signed body.
const endorsementDomain = "tether-key-endorsement-v1\x00"

// EndorsementBody is what key index-1 signs to endorse pub as key index.
func EndorsementBody(index uint64, pub ed25519.PublicKey) []byte {
	b := make([]byte, 0, len(endorsementDomain)+8+len(pub))
	b = append(b, endorsementDomain...)
	b = binary.BigEndian.AppendUint64(b, index)
	return append(b, pub...)
}

// EndorseKey returns prev's endorsement of pub as key index.
func EndorseKey(prev ed25519.PrivateKey, index uint64, pub ed25519.PublicKey) ([]byte, error) {
	if len(prev) != ed25519.PrivateKeySize || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("protocol: endorse key %d: key sizes %d/%d, want %d/%d", index, len(prev), len(pub), ed25519.PrivateKeySize, ed25519.PublicKeySize)
	}
	return ed25519.Sign(prev, EndorsementBody(index, pub)), nil
}

// VerifyKeyChain finds pinned in chain and checks every link after it:
// consecutive indexes and an endorsement by the link before. It returns
// the newest key (pinned itself when nothing follows it) and its index.
// Links before the pinned key are not checked: trust starts at the pin.
func VerifyKeyChain(pinned ed25519.PublicKey, chain []KeyLink) (ed25519.PublicKey, uint64, error) {
	if len(chain) > MaxKeyChain {
		return nil, 0, fmt.Errorf("%w: %d links, at most %d", ErrKeyChain, len(chain), MaxKeyChain)
	}
	at := -1
	for i := range chain {
		if bytes.Equal(chain[i].PublicKey, pinned) {
			at = i
			break
		}
	}
	if len(pinned) != ed25519.PublicKeySize || at < 0 {
		return nil, 0, fmt.Errorf("%w: the pinned key is not in it (re-enrol the agent if central's keyring was replaced)", ErrKeyChain)
	}
	for i := at + 1; i < len(chain); i++ {
		prev, l := &chain[i-1], &chain[i]
		if l.Index != prev.Index+1 {
			return nil, 0, fmt.Errorf("%w: key %d follows key %d (a gap or out of order)", ErrKeyChain, l.Index, prev.Index)
		}
		if len(l.PublicKey) != ed25519.PublicKeySize {
			return nil, 0, fmt.Errorf("%w: key %d has %d bytes, want %d", ErrKeyChain, l.Index, len(l.PublicKey), ed25519.PublicKeySize)
		}
		if len(l.Endorsement) != ed25519.SignatureSize || !ed25519.Verify(prev.PublicKey, EndorsementBody(l.Index, l.PublicKey), l.Endorsement) {
			return nil, 0, fmt.Errorf("%w: key %d is not endorsed by key %d", ErrKeyChain, l.Index, prev.Index)
		}
	}
	last := chain[len(chain)-1]
	return ed25519.PublicKey(last.PublicKey), last.Index, nil
}
