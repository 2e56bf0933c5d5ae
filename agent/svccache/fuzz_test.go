package svccache

import "testing"

// FuzzUpdate feeds arbitrary svc/<name> payloads to the cache: it must
// never panic, and a payload it accepts must be readable back.
func FuzzUpdate(f *testing.F) {
	f.Add("api", enc(f, apiSet(1, "10.0.0.1", "10.0.0.2")))
	f.Add("api", []byte{})
	f.Add("api", []byte{0xa1, 0x00})
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		c := New(nil, quiet())
		if err := c.Update(name, payload); err != nil {
			return
		}
		if _, known := c.Get(name); !known {
			t.Fatalf("accepted set for %q not stored", name)
		}
	})
}
