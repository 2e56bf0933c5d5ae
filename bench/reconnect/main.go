// Command reconnect measures a reconnect storm: N simulated agents
// (lightweight MQTT clients speaking the agent protocol, all in this
// process) run a job on a real central, lose contact at once until central
// marks them disconnected, then all reconnect together. It reports how long
// central takes until every node is ready and every allocation is running
// again.
//
//	go run ./bench/reconnect -central bin/central -agents 1000
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
	"github.com/tether-edge/tether/protocol"
)

func main() {
	centralBin := flag.String("central", "bin/central", "central binary")
	n := flag.Int("agents", 1000, "simulated agents")
	per := flag.Int("allocs", 3, "allocations per agent")
	flag.Parse()
	if err := run(*centralBin, *n, *per); err != nil {
		fmt.Fprintln(os.Stderr, "reconnect bench:", err)
		os.Exit(1)
	}
}

func run(centralBin string, n, per int) error {
	c, err := sim.StartCentral(centralBin, "-heartbeat-ttl", "3s", "-heartbeat-grace", "1s")
	if err != nil {
		return err
	}
	defer c.Stop()
	agents := make([]*sim.Agent, n)
	for i := range agents {
		agents[i] = &sim.Agent{ID: fmt.Sprintf("sim-%04d", i), Broker: c.MQTT, OnDesired: runAll}
	}
	if err := sim.ConnectAll(agents); err != nil {
		return err
	}
	stopBeats := sim.Beat(agents, time.Second)
	if err := sim.WaitFor(60*time.Second, func() bool { return c.CountNodes("ready") == n }); err != nil {
		return fmt.Errorf("%d agents did not all register: %w", n, err)
	}
	job := fmt.Sprintf(`job "storm" {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    disconnect {
      lost_after = "1h"
      replace    = false
    }
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      resources {
        cpu    = 10
        memory = 10
      }
    }
  }
}`, n*per)
	if err := sim.PostJSON(c.API+"/v1/jobs", map[string]string{"hcl": job}, nil); err != nil {
		return err
	}
	t0 := time.Now()
	if err := sim.WaitFor(120*time.Second, func() bool { return c.CountAllocs("storm", "running") == n*per }); err != nil {
		return fmt.Errorf("allocations did not all run: %w (running %d)", err, c.CountAllocs("storm", "running"))
	}
	fmt.Printf("| %d agents × %d allocs | placed and running | %.2f s |\n", n, per, time.Since(t0).Seconds())

	// Every agent loses its link at once.
	stopBeats()
	for _, a := range agents {
		a.Disconnect()
	}
	t1 := time.Now()
	if err := sim.WaitFor(120*time.Second, func() bool {
		return c.CountNodes("disconnected") == n && c.CountAllocs("storm", "unknown") == n*per
	}); err != nil {
		return fmt.Errorf("nodes did not all become disconnected with their allocs unknown: %w (unknown %d)", err, c.CountAllocs("storm", "unknown"))
	}
	fmt.Printf("| %d agents | all disconnected, allocs unknown (TTL+grace = 4 s) | %.2f s |\n", n, time.Since(t1).Seconds())

	// And all come back at once.
	t2 := time.Now()
	if err := sim.ConnectAll(agents); err != nil {
		return err
	}
	stopBeats = sim.Beat(agents, time.Second)
	defer stopBeats()
	if err := sim.WaitFor(120*time.Second, func() bool {
		return c.CountNodes("ready") == n && c.CountAllocs("storm", "running") == n*per
	}); err != nil {
		return fmt.Errorf("state was not reconciled: %w (ready %d, running %d)", err, c.CountNodes("ready"), c.CountAllocs("storm", "running"))
	}
	fmt.Printf("| %d agents × %d allocs | reconnect storm: every node ready, every alloc running | %.2f s |\n", n, per, time.Since(t2).Seconds())
	return nil
}

// runAll reports every allocation the agent is given as running (once).
func runAll(a *sim.Agent, d *protocol.Desired) {
	var ups []protocol.AllocUpdate
	now := time.Now()
	for _, da := range d.Allocs {
		if _, held := a.Latest(da.ID); !held {
			ups = append(ups, sim.Running(da.ID, now))
		}
	}
	a.Report(ups...)
}
