package protocol

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// Limits on anything decoded off the network.
const (
	MaxMessageSize   = 1 << 20 // bytes
	MaxNestedLevels  = 16
	MaxArrayElements = 4096
	MaxMapPairs      = 4096
)

var (
	// ErrTooLarge is returned for a payload over MaxMessageSize.
	ErrTooLarge = errors.New("protocol: message too large")
	// ErrVersion is returned for a message of a protocol version we do not speak.
	ErrVersion = errors.New("protocol: unsupported protocol version")
	// ErrMalformed wraps every CBOR decoding failure.
	ErrMalformed = errors.New("protocol: malformed message")
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic("BUG: cbor enc mode: " + err.Error())
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:   MaxNestedLevels,
		MaxArrayElements:  MaxArrayElements,
		MaxMapPairs:       MaxMapPairs,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		DefaultMapType:    reflect.TypeOf(map[string]any(nil)),
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic("BUG: cbor dec mode: " + err.Error())
	}
}

// Encode marshals v with the one deterministic encoding of the protocol.
func Encode(v any) ([]byte, error) {
	return encMode.Marshal(v)
}

// versioned is implemented by every top-level message.
type versioned interface{ version() int }

func (m *Hello) version() int      { return m.V }
func (m *Heartbeat) version() int  { return m.V }
func (m *Update) version() int     { return m.V }
func (m *Desired) version() int    { return m.V }
func (m *Ack) version() int        { return m.V }
func (m *Online) version() int     { return m.V }
func (m *ServiceSet) version() int { return m.V }

// Decode unmarshals a message that came off the network into v (a pointer to
// one of the message types) under the strict limits, and checks its version.
// It never panics on any input.
func Decode(data []byte, v any) error {
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(data), MaxMessageSize)
	}
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if m, ok := v.(versioned); ok && m.version() != Version {
		return fmt.Errorf("%w: %d (this build speaks %d)", ErrVersion, m.version(), Version)
	}
	return nil
}

// DecodeValue decodes CBOR from a trusted local store (the agent's state
// file) with the same limits as Decode but no version check.
func DecodeValue(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}
