package main

import (
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// simAgent is a paho client that sends exactly the agent's idle traffic
// (QoS 0 heartbeats on node/<uuid>/hb) with another MQTT keepalive or
// heartbeat shape, to measure what a change would save before making it.
type simAgent struct {
	client mqtt.Client
	stop   chan struct{}
}

func startSim(broker, id string, keepalive, hb time.Duration, withBoot bool) (*simAgent, error) {
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("tether-agent-" + id).
		SetKeepAlive(keepalive).SetCleanSession(false).SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
		return nil, tok.Error()
	}
	s := &simAgent{client: c, stop: make(chan struct{})}
	topic := protocol.Topics{}.Heartbeat(id)
	boot := time.Now().UnixMilli()
	go func() {
		t := time.NewTicker(hb)
		defer t.Stop()
		for seq := uint64(1); ; seq++ {
			m := protocol.Heartbeat{V: protocol.Version, Seq: seq, Time: time.Now().UnixMilli(), SoCTemp: 483}
			if withBoot {
				m.Boot = boot
			}
			b, _ := protocol.Encode(&m)
			c.Publish(topic, 0, false, b)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s, nil
}

func (s *simAgent) close() {
	close(s.stop)
	s.client.Disconnect(100)
}

func (w wire) perMinute(prev wire, window time.Duration) (segs float64, ip float64) {
	segs = float64(w.segsIn-prev.segsIn) + float64(w.segsOut-prev.segsOut)
	bytes := float64(w.bytesIn-prev.bytesIn) + float64(w.bytesOut-prev.bytesOut)
	m := window.Minutes()
	return segs / m, (bytes + ipOverhead*segs) / m
}

func simRow(label string, w0, w1 wire, window time.Duration) string {
	segs, ip := w1.perMinute(w0, window)
	return fmt.Sprintf("| %s | %.1f | %.0f | %s |\n", label, segs, ip, verdict(ip <= goalIdleBytes))
}
