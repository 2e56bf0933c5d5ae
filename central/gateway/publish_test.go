package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// A publish the MQTT client refuses at once (its session has ended) is an
// error every time, not only when a zero timeout happens to lose the race
// against the done token.
func TestPublishRefusedByClientIsAnError(t *testing.T) {
	b := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := Connect(ctx, Config{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	for i := 0; i < 100; i++ {
		if err := g.PublishAck("n1", uint64(i+1)); !errors.Is(err, paho.ErrNotConnected) {
			t.Fatalf("PublishAck %d after Close = %v, want %v", i, err, paho.ErrNotConnected)
		}
	}
}
