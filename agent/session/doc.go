// Package session owns the agent's one MQTT connection (paho.mqtt.golang):
// a persistent session (clean session off) with a fixed client id, QoS 1,
// a last will, and automatic reconnects with backoff.
//
// Paho calls back on its own goroutines; the Session never changes agent
// state there. It turns every callback into an Event on one channel that
// the agent's main goroutine reads:
//
//	s := session.New(opts, events)
//	s.Connect()                                  // returns at once; paho retries
//	for ev := range events {
//		switch ev.Kind {
//		case session.Connected:   subscribe, hello, flush the outbox
//		case session.Lost:        stop publishing updates
//		case session.Message:     ev.Topic, ev.Payload
//		}
//	}
//	s.Close()
package session
