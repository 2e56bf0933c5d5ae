package protocol

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestSignVerifyDesired(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	pub2, priv2, _ := ed25519.GenerateKey(nil)
	d := &Desired{V: Version, NodeID: "n1", Index: 7, Allocs: []DesiredAlloc{{ID: "a", DesiredStatus: DesiredRun}}}
	if err := VerifyDesired(d, pub); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: got %v, want ErrUnsigned", err)
	}
	if err := SignDesired(d, priv); err != nil {
		t.Fatal(err)
	}
	if err := VerifyDesired(d, pub); err != nil {
		t.Fatalf("signed: %v", err)
	}
	// Round trip through the wire keeps the signature valid.
	b, _ := Encode(d)
	var got Desired
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := VerifyDesired(&got, pub); err != nil {
		t.Fatalf("after decode: %v", err)
	}
	if err := VerifyDesired(d, pub2); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong key: got %v", err)
	}
	got.Index = 8 // tampered
	if err := VerifyDesired(&got, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: got %v", err)
	}
	// Co-signed during a rotation: either key verifies.
	if err := SignDesired(d, priv2, priv); err != nil {
		t.Fatal(err)
	}
	for _, p := range []ed25519.PublicKey{pub, pub2} {
		if err := VerifyDesired(d, p); err != nil {
			t.Fatalf("co-signed: %v", err)
		}
	}
}

func TestSignVerifyServiceSet(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := &ServiceSet{V: Version, Name: "web", Index: 3, Instances: []ServiceInstance{{ID: "i", Address: "10.0.0.1", Port: 80}}}
	if err := SignServiceSet(s, priv); err != nil {
		t.Fatal(err)
	}
	if err := VerifyServiceSet(s, pub); err != nil {
		t.Fatal(err)
	}
	s.Instances[0].Port = 81
	if err := VerifyServiceSet(s, pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: got %v", err)
	}
}
