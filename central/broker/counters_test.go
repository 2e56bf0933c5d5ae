package broker

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tether-edge/tether/protocol"
)

// TestBrokerCountsRefusals: bad logins, denied topics and oversized
// packets each show in Counters.
func TestBrokerCountsRefusals(t *testing.T) {
	auth := &testAuthority{nodes: map[string]bool{"a": true}}
	b, err := StartAuth("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), auth, protocol.Topics{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	tp := protocol.Topics{}

	for _, login := range [][2]string{{"", ""}, {"a", "wrong"}, {"stranger", "x"}} {
		if _, err := connect(t, b.URL(), login[0], login[1]); err == nil {
			t.Fatalf("login %q connected", login[0])
		}
	}
	// paho tries MQTT 3.1.1 and then 3.1: two CONNECTs per attempt.
	if c := b.Counters(); c.RefusedConnects != 6 {
		t.Fatalf("refused connects = %d, want 6", c.RefusedConnects)
	}

	forger, err := connect(t, b.URL(), "a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	forger.Publish(tp.Hello("b"), 1, false, []byte("forged"))
	eventually(t, 5*time.Second, func() error {
		if c := b.Counters(); c.DeniedTopics < 1 {
			return fmt.Errorf("denied = %d, want >= 1", c.DeniedTopics)
		}
		return nil
	})

	big, err := connect(t, b.URL(), "a", "pw-a")
	if err != nil {
		t.Fatal(err)
	}
	big.Publish(tp.Hello("a"), 0, false, make([]byte, 2<<20))
	eventually(t, 5*time.Second, func() error {
		if c := b.Counters(); c.TooLarge != 1 || big.IsConnectionOpen() {
			return fmt.Errorf("too large = %d (want 1), still connected: %v", c.TooLarge, big.IsConnectionOpen())
		}
		return nil
	})
}
