package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
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

// testChain makes n keys, key i+1 endorsed by key i (indexes from 1).
func testChain(t *testing.T, n int) ([]ed25519.PrivateKey, []KeyLink) {
	t.Helper()
	var privs []ed25519.PrivateKey
	var chain []KeyLink
	for i := 0; i < n; i++ {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		l := KeyLink{Index: uint64(i + 1), PublicKey: pub}
		if i > 0 {
			if l.Endorsement, err = EndorseKey(privs[i-1], l.Index, pub); err != nil {
				t.Fatal(err)
			}
		}
		privs = append(privs, priv)
		chain = append(chain, l)
	}
	return privs, chain
}

func TestVerifyKeyChain(t *testing.T) {
	privs, chain := testChain(t, 4)
	pubOf := func(i int) ed25519.PublicKey { return privs[i].Public().(ed25519.PublicKey) }
	_, stranger := testChain(t, 1)
	clone := func() []KeyLink { return append([]KeyLink(nil), chain...) }
	forged := func() []KeyLink {
		// Key 3 replaced by an attacker's key, "endorsed" by the attacker.
		c := clone()
		pub, priv, _ := ed25519.GenerateKey(nil)
		e, _ := EndorseKey(priv, 3, pub)
		c[2] = KeyLink{Index: 3, PublicKey: pub, Endorsement: e}
		return c
	}
	for _, tc := range []struct {
		name      string
		pinned    ed25519.PublicKey
		chain     []KeyLink
		wantIndex uint64 // 0: must fail
	}{
		{"good chain from the first key", pubOf(0), clone(), 4},
		{"good chain from a middle key", pubOf(2), clone(), 4},
		{"pinned key is the newest", pubOf(3), clone(), 4},
		{"good chain with a broken prefix before the pin", pubOf(2), append([]KeyLink{{Index: 9, PublicKey: []byte("junk")}}, chain[1:]...), 4},
		{"forged link", pubOf(0), forged(), 0},
		{"endorsement of another index", pubOf(0), func() []KeyLink {
			c := clone()
			c[1].Endorsement, _ = EndorseKey(privs[0], 7, c[1].PublicKey)
			return c
		}(), 0},
		{"gap", pubOf(0), []KeyLink{chain[0], chain[1], chain[3]}, 0},
		{"reorder", pubOf(0), []KeyLink{chain[0], chain[2], chain[1], chain[3]}, 0},
		{"missing endorsement", pubOf(0), func() []KeyLink { c := clone(); c[3].Endorsement = nil; return c }(), 0},
		{"short public key", pubOf(0), func() []KeyLink { c := clone(); c[1].PublicKey = c[1].PublicKey[:31]; return c }(), 0},
		{"pinned key not in the chain", stranger[0].PublicKey, clone(), 0},
		{"empty chain", pubOf(0), nil, 0},
		{"no pinned key", nil, clone(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, idx, err := VerifyKeyChain(tc.pinned, tc.chain)
			if tc.wantIndex == 0 {
				if !errors.Is(err, ErrKeyChain) || got != nil {
					t.Fatalf("got key %x index %d err %v, want ErrKeyChain", got, idx, err)
				}
				return
			}
			if err != nil || idx != tc.wantIndex || !got.Equal(pubOf(int(tc.wantIndex-1))) {
				t.Fatalf("got index %d err %v, want key %d", idx, err, tc.wantIndex)
			}
		})
	}
}

func TestVerifyKeyChainTooLong(t *testing.T) {
	_, chain := testChain(t, 1)
	long := make([]KeyLink, MaxKeyChain+1)
	long[0] = chain[0]
	if _, _, err := VerifyKeyChain(chain[0].PublicKey, long); !errors.Is(err, ErrKeyChain) {
		t.Fatalf("err %v, want ErrKeyChain", err)
	}
}

// fuzzChain is a valid 3-key chain from fixed seeds; its first key is the
// pinned key of FuzzKeyChain.
func fuzzChain() (ed25519.PublicKey, []KeyLink) {
	var privs []ed25519.PrivateKey
	var chain []KeyLink
	for i := 0; i < 3; i++ {
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		pub := priv.Public().(ed25519.PublicKey)
		l := KeyLink{Index: uint64(i + 1), PublicKey: pub}
		if i > 0 {
			l.Endorsement, _ = EndorseKey(privs[i-1], l.Index, pub)
		}
		privs, chain = append(privs, priv), append(chain, l)
	}
	return chain[0].PublicKey, chain
}

// FuzzKeyChain feeds what an agent reads from GET /v1/security/keyring
// (JSON) to VerifyKeyChain: nothing panics, and a chain accepted ends in
// its newest key and holds the pinned key.
func FuzzKeyChain(f *testing.F) {
	pinned, chain := fuzzChain()
	good, _ := json.Marshal(chain)
	f.Add(good)
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"index":1,"public_key":"AAAA"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c []KeyLink
		if json.Unmarshal(b, &c) != nil {
			return
		}
		newest, idx, err := VerifyKeyChain(pinned, c)
		if err != nil {
			if !errors.Is(err, ErrKeyChain) {
				t.Fatalf("error %v is not ErrKeyChain", err)
			}
			return
		}
		last := c[len(c)-1]
		if !bytes.Equal(newest, last.PublicKey) || idx != last.Index {
			t.Fatalf("accepted chain returned key %d, not its newest %d", idx, last.Index)
		}
	})
}
