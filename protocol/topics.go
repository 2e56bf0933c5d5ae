package protocol

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the topic prefix used when none is configured.
const DefaultPrefix = "tether/v1"

// Kind names one of the topic families of the protocol.
type Kind string

// The node topics (agent → central unless noted) and the service topic.
const (
	KindHello   Kind = "hello"   // agent → central, QoS 1
	KindHB      Kind = "hb"      // agent → central, QoS 0
	KindUp      Kind = "up"      // agent → central, QoS 1
	KindOnline  Kind = "online"  // agent LWT, QoS 1, retained
	KindDesired Kind = "desired" // central → agent, QoS 1, retained
	KindAck     Kind = "ack"     // central → agent, QoS 1
	KindSvc     Kind = "svc"     // central → all, QoS 1, retained
)

// Topics builds and parses topic names under one prefix.
type Topics struct {
	Prefix string // e.g. "tether/v1"; empty means DefaultPrefix
}

func (t Topics) prefix() string {
	if t.Prefix == "" {
		return DefaultPrefix
	}
	return strings.TrimSuffix(t.Prefix, "/")
}

func (t Topics) node(id string, k Kind) string {
	return t.prefix() + "/node/" + id + "/" + string(k)
}

// Hello is the topic an agent registers on.
func (t Topics) Hello(nodeID string) string { return t.node(nodeID, KindHello) }

// Heartbeat is the topic of an agent's heartbeats.
func (t Topics) Heartbeat(nodeID string) string { return t.node(nodeID, KindHB) }

// Up is the topic of an agent's batched state updates.
func (t Topics) Up(nodeID string) string { return t.node(nodeID, KindUp) }

// Online is the retained online/offline marker of a node (its LWT).
func (t Topics) Online(nodeID string) string { return t.node(nodeID, KindOnline) }

// Desired is the retained desired-state topic of a node.
func (t Topics) Desired(nodeID string) string { return t.node(nodeID, KindDesired) }

// Ack is the topic central acknowledges a node's updates on.
func (t Topics) Ack(nodeID string) string { return t.node(nodeID, KindAck) }

// Service is the retained topic holding all instances of a service.
func (t Topics) Service(name string) string { return t.prefix() + "/svc/" + name }

// AllNodes is the subscription filter for one kind of node topic from every node.
func (t Topics) AllNodes(k Kind) string { return t.prefix() + "/node/+/" + string(k) }

// AllServices is the subscription filter for every service topic.
func (t Topics) AllServices() string { return t.prefix() + "/svc/+" }

// Parse splits a topic into its kind and its node id (for node topics) or
// service name (for svc topics). ok is false for topics outside the prefix
// or of unknown shape.
func (t Topics) Parse(topic string) (k Kind, id string, ok bool) {
	rest, found := strings.CutPrefix(topic, t.prefix()+"/")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 3 && parts[0] == "node" && ValidID(parts[1]):
		k = Kind(parts[2])
		switch k {
		case KindHello, KindHB, KindUp, KindOnline, KindDesired, KindAck:
			return k, parts[1], true
		}
	case len(parts) == 2 && parts[0] == "svc" && ValidID(parts[1]):
		return KindSvc, parts[1], true
	}
	return "", "", false
}

// ValidID reports whether s can be used as one topic level: a node id or a
// service name. It must be non-empty, at most 128 bytes, and hold no MQTT
// wildcard, separator or control character.
func ValidID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '+' || c == '#' || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// CheckID returns an error naming what is wrong with an id used in a topic.
func CheckID(what, s string) error {
	if !ValidID(s) {
		return fmt.Errorf("%s %q cannot be used in a topic: it must be 1-128 bytes without '/', '+', '#' or control characters", what, s)
	}
	return nil
}
