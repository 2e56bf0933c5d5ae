package protocol

import (
	"crypto/ed25519"
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
