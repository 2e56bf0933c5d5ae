package gateway

import (
	"crypto/ed25519"
	"fmt"

	"github.com/tether-edge/tether/protocol"
)

// signedDesired returns d signed with Config.SigningKeys' keys (a copy;
// d itself is not changed), or d when central does not sign.
func (g *Gateway) signedDesired(d *protocol.Desired) (*protocol.Desired, error) {
	keys := g.signingKeys()
	if len(keys) == 0 {
		return d, nil
	}
	c := *d
	if err := protocol.SignDesired(&c, keys...); err != nil {
		return nil, fmt.Errorf("gateway: sign desired for %s: %w", d.NodeID, err)
	}
	return &c, nil
}

// signedService is signedDesired for a service set.
func (g *Gateway) signedService(s *protocol.ServiceSet) (*protocol.ServiceSet, error) {
	keys := g.signingKeys()
	if len(keys) == 0 {
		return s, nil
	}
	c := *s
	if err := protocol.SignServiceSet(&c, keys...); err != nil {
		return nil, fmt.Errorf("gateway: sign service set %s: %w", s.Name, err)
	}
	return &c, nil
}

func (g *Gateway) signingKeys() []ed25519.PrivateKey {
	if g.cfg.SigningKeys == nil {
		return nil
	}
	return g.cfg.SigningKeys()
}
