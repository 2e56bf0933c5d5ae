package partition

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// startBroker runs a mochi-mqtt broker on 127.0.0.1 and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// pahoThrough connects a paho client to the broker through p with a 1 s
// keepalive and counts connects and losses.
func pahoThrough(t *testing.T, p *Proxy) (cl paho.Client, connects, losses *atomic.Int64) {
	t.Helper()
	connects, losses = new(atomic.Int64), new(atomic.Int64)
	o := paho.NewClientOptions().AddBroker("tcp://" + p.Addr()).SetClientID("partition-test").
		SetKeepAlive(time.Second).SetPingTimeout(time.Second).SetConnectTimeout(time.Second).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(paho.Client) { connects.Add(1) }).
		SetConnectionLostHandler(func(paho.Client, error) { losses.Add(1) })
	cl = paho.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect through proxy: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	eventually(t, 5*time.Second, func() error {
		if connects.Load() != 1 {
			return fmt.Errorf("connects = %d", connects.Load())
		}
		return nil
	})
	return cl, connects, losses
}

func TestProxyBlackholeMQTTKeepalive(t *testing.T) {
	p := newProxy(t, startBroker(t))
	_, connects, losses := pahoThrough(t, p)
	p.Blackhole()
	start := time.Now()
	eventually(t, 10*time.Second, func() error {
		if losses.Load() == 0 {
			return fmt.Errorf("paho has not noticed the blackhole")
		}
		return nil
	})
	t.Logf("keepalive 1s: blackhole noticed after %v", time.Since(start).Round(10*time.Millisecond))
	p.Pass()
	eventually(t, 10*time.Second, func() error {
		if connects.Load() < 2 {
			return fmt.Errorf("connects = %d, want a reconnect after Pass", connects.Load())
		}
		return nil
	})
}

func TestProxyCutMQTT(t *testing.T) {
	p := newProxy(t, startBroker(t))
	_, connects, losses := pahoThrough(t, p)
	p.Cut()
	start := time.Now()
	eventually(t, 5*time.Second, func() error {
		if losses.Load() == 0 {
			return fmt.Errorf("paho has not noticed the cut")
		}
		return nil
	})
	t.Logf("cut noticed after %v", time.Since(start).Round(10*time.Millisecond))
	p.Pass()
	eventually(t, 10*time.Second, func() error {
		if connects.Load() < 2 {
			return fmt.Errorf("connects = %d, want a reconnect after Pass", connects.Load())
		}
		return nil
	})
}
