// Package protocol owns Tether's wire contract between central and agents:
// MQTT topic names and the CBOR messages carried on them.
//
// Both binaries import it; it imports nothing of ours. Every message that
// comes off the network goes through Decode, which applies strict limits
// (size, nesting depth, array and map lengths, duplicate map keys) and checks
// the protocol version, so a hostile or broken payload is an error, never a
// panic:
//
//	topic := protocol.Topics{Prefix: "tether/v1"}
//	payload, _ := protocol.Encode(&protocol.Heartbeat{V: protocol.Version, Seq: 7})
//	client.Publish(topic.Heartbeat(nodeID), 0, false, payload)
//	...
//	kind, nodeID, ok := topic.Parse(msg.Topic())
//	var hb protocol.Heartbeat
//	if err := protocol.Decode(msg.Payload(), &hb); err != nil { count and drop }
package protocol
