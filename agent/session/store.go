package session

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// nullStore is a paho Store that keeps nothing. paho uses its store to
// resend unacknowledged QoS 1 packets after a reconnect; the agent does that
// itself from its outbox (and re-sends its Hello), so paho need not. It
// also avoids two data races in paho 1.5's resume(): it mutates stored
// PUBLISH packets (the DUP flag) while its writer may be sending the same
// objects.
type nullStore struct{}

var _ mqtt.Store = nullStore{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}
