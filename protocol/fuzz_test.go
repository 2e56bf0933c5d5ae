package protocol

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// Every decoder that reads the network is fuzzed: Decode must return an
// error or a value, never panic; an error wraps one of the package's
// sentinels; and whatever it accepts must encode again, to bytes that
// decode to the same encoding (the accepted value survives a round trip).
func fuzzDecode[T any](f *testing.F, seed any) {
	if b, err := Encode(seed); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := Decode(data, &v); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error wraps no protocol sentinel: %v", err)
			}
			return
		}
		roundTrip[T](t, &v)
	})
}

// roundTrip checks that v encodes, and that its encoding decodes to a
// value with the same encoding.
func roundTrip[T any](t *testing.T, v *T) {
	t.Helper()
	enc, err := Encode(v)
	if err != nil {
		t.Fatalf("accepted a message it cannot encode: %v", err)
	}
	var again T
	if err := Decode(enc, &again); err != nil {
		t.Fatalf("cannot decode its own encoding of an accepted message: %v\n%x", err, enc)
	}
	enc2, err := Encode(&again)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("round trip changed the message:\n%x\n%x (%v)", enc, enc2, err)
	}
}

func FuzzDecodeHello(f *testing.F)     { fuzzDecode[Hello](f, golden["hello"]) }
func FuzzDecodeHeartbeat(f *testing.F) { fuzzDecode[Heartbeat](f, golden["heartbeat"]) }
func FuzzDecodeUpdate(f *testing.F)    { fuzzDecode[Update](f, golden["update"]) }
func FuzzDecodeDesired(f *testing.F)   { fuzzDecode[Desired](f, golden["desired"]) }
func FuzzDecodeAck(f *testing.F)       { fuzzDecode[Ack](f, golden["ack"]) }
func FuzzDecodeOnline(f *testing.F)    { fuzzDecode[Online](f, golden["online"]) }
func FuzzDecodeService(f *testing.F)   { fuzzDecode[ServiceSet](f, golden["svc"]) }

// fuzzKey is a fixed signing key, so the seeds carry valid signatures.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// FuzzVerifyDesired is what an agent does with a desired state: decode,
// then verify the signature against the pinned key. Neither may panic, and
// a message that verifies must be the one that was signed (the fuzzer may
// change its bytes only in ways that decode to the same message).
func FuzzVerifyDesired(f *testing.F) {
	signed := *golden["desired"].(*Desired)
	if err := SignDesired(&signed, fuzzKey); err != nil {
		f.Fatal(err)
	}
	want, _ := Encode(&signed)
	f.Add(want)
	f.Add([]byte{0xa1, 0x00, 0x01})
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Desired
		if Decode(data, &d) != nil {
			return
		}
		err := VerifyDesired(&d, pub)
		if err != nil {
			if !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("verify error wraps no sentinel: %v", err)
			}
			return
		}
		if got, _ := Encode(&d); !bytes.Equal(got, want) {
			t.Fatalf("a desired state that was never signed verifies:\n%x", got)
		}
	})
}

// FuzzVerifyServiceSet is FuzzVerifyDesired for service sets.
func FuzzVerifyServiceSet(f *testing.F) {
	signed := *golden["svc"].(*ServiceSet)
	if err := SignServiceSet(&signed, fuzzKey); err != nil {
		f.Fatal(err)
	}
	want, _ := Encode(&signed)
	f.Add(want)
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		var s ServiceSet
		if Decode(data, &s) != nil {
			return
		}
		err := VerifyServiceSet(&s, pub)
		if err != nil {
			if !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("verify error wraps no sentinel: %v", err)
			}
			return
		}
		if got, _ := Encode(&s); !bytes.Equal(got, want) {
			t.Fatalf("a service set that was never signed verifies:\n%x", got)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	f.Add("tether/v1/node/n1/hello")
	f.Add("tether/v1/svc/web")
	f.Fuzz(func(t *testing.T, topic string) {
		k, id, ok := Topics{}.Parse(topic)
		if ok && (k == "" || !ValidID(id)) {
			t.Fatalf("Parse(%q) accepted kind %q id %q", topic, k, id)
		}
	})
}
