package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
	"github.com/tether-edge/tether/test/partition"
)

// The tutorial's drill, with its own tools: the edge agent runs in a
// network namespace, and `iptables -I INPUT -s <central> -j DROP` inside
// it cuts it off. Two edge agents in dc2 and one in dc1; the job has
// max_client_disconnect = "1h".
func TestTutorialPartitionWithIptables(t *testing.T) {
	ns, err := partition.NewNetns(t, "edge1")
	testhost.Require(t, err == nil, fmt.Sprintf("a network namespace (%v)", err), "run as root with iproute2 and iptables installed")
	c := startCentral(t, clusterOpts{ttl: "2s", mqttHost: ns.HostAddr()})
	work := t.TempDir()

	// edge-1 inside the namespace, reaching the broker on the veth.
	agentOut := &syncBuffer{}
	cmd := ns.Command(bins.agent, "-name", "edge-1", "-datacenter", "dc2", "-broker", c.broker,
		"-data-dir", filepath.Join(c.dir, "agent-edge-1"), "-heartbeat", "1s", "-advertise", ns.Addr())
	cmd.Stdout, cmd.Stderr = agentOut, agentOut
	if err := ns.StartCmd(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Restore()
		c.stopAllJobs(10 * time.Second)
		cmd.Process.Signal(syscall.SIGTERM)
		if t.Failed() {
			t.Logf("---- output of agent edge-1 (in %s) ----\n%s", ns.Name(), agentOut.String())
		}
	})
	c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", edgeJob(t, work, `max_client_disconnect = "1h"`)); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	original := c.waitRunning("edge", 1, 20*time.Second)[0]
	c.startAgent("onprem")
	c.startAgent("edge-2", "-datacenter", "dc2")
	c.waitNode("onprem", "ready", 20*time.Second)
	c.waitNode("edge-2", "ready", 20*time.Second)

	if err := ns.Drop(ns.HostAddr()); err != nil {
		t.Fatal(err)
	}
	c.waitNode("edge-1", "disconnected", 30*time.Second)
	c.waitUnknown(original.ID, 20*time.Second)
	replacement := c.waitReplacement("edge", original, 20*time.Second, nil)
	if got := c.service("payments-api", true); len(got) != 2 {
		t.Errorf("during the outage the service should list both instances, got %+v", got)
	}
	if out, code := c.cli("service", "info", "-all", "payments-api"); code != 0 || strings.Count(out, original.ID[:8]) != 1 || strings.Count(out, replacement.ID[:8]) != 1 {
		t.Errorf("service info during the outage (exit %d) does not show both allocations:\n%s", code, out)
	}

	if err := ns.Restore(); err != nil {
		t.Fatal(err)
	}
	c.waitNode("edge-1", "ready", 60*time.Second)
	eventually(t, 30*time.Second, func() error {
		o, r := c.allocDetail(original.ID), c.allocDetail(replacement.ID)
		if o.ClientStatus != "running" || !o.hasEvent("Reconnected") {
			return fmt.Errorf("original is %s, events %+v", o.ClientStatus, o.Events)
		}
		if r.ClientStatus != "complete" || r.DesiredStatus != "stop" {
			return fmt.Errorf("replacement is %s/%s", r.ClientStatus, r.DesiredStatus)
		}
		if got := c.service("payments-api", true); len(got) != 1 {
			return fmt.Errorf("service instances after reconnect: %+v", got)
		}
		return nil
	})
}
