package protocol

import (
	"testing"
)

// Every decoder that reads the network is fuzzed: Decode must return an
// error or a value, never panic, and whatever it accepts must encode again.
func fuzzDecode[T any](f *testing.F, seed any) {
	if b, err := Encode(seed); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := Decode(data, &v); err != nil {
			return
		}
		if _, err := Encode(&v); err != nil {
			t.Fatalf("accepted a message it cannot encode: %v", err)
		}
	})
}

func FuzzDecodeHello(f *testing.F)     { fuzzDecode[Hello](f, golden["hello"]) }
func FuzzDecodeHeartbeat(f *testing.F) { fuzzDecode[Heartbeat](f, golden["heartbeat"]) }
func FuzzDecodeUpdate(f *testing.F)    { fuzzDecode[Update](f, golden["update"]) }
func FuzzDecodeDesired(f *testing.F)   { fuzzDecode[Desired](f, golden["desired"]) }
func FuzzDecodeAck(f *testing.F)       { fuzzDecode[Ack](f, golden["ack"]) }
func FuzzDecodeOnline(f *testing.F)    { fuzzDecode[Online](f, golden["online"]) }
func FuzzDecodeService(f *testing.F)   { fuzzDecode[ServiceSet](f, golden["svc"]) }

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
