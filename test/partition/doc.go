// Package partition breaks networks on purpose, for fault tests.
//
// Two tools, one per speed:
//
//   - Proxy is a user-space TCP proxy on 127.0.0.1 that an agent dials
//     instead of its broker. It forwards (Pass), holds every byte in both
//     directions like an iptables DROP rule (Blackhole), or resets every
//     connection and refuses new ones (Cut). Fast, unprivileged, runs
//     anywhere.
//
//     p, _ := partition.NewProxy(brokerAddr)  // agent dials p.Addr()
//     p.Blackhole()                            // keepalives go unanswered
//     p.Pass()                                 // held bytes flow again
//
//   - Netns builds a network namespace joined to the host by a veth pair,
//     runs processes inside it and drops traffic with iptables inside it,
//     as Nomad's edge tutorial does. Root only; tests skip (or fail under
//     CI=true) when they cannot have it.
//
//     ns := partition.NewNetns(t, "site1")     // ns.Addr() 10.251.X.2, ns.HostAddr() 10.251.X.1
//     broker listens on ns.HostAddr()          // never 0.0.0.0
//     cmd := ns.Start(agentCmd)                // agent runs inside the namespace
//     ns.Drop(ns.HostAddr())                   // iptables -I INPUT -s <host> -j DROP
//     ns.Restore()
//
// Everything a test starts here is stopped by Close or t.Cleanup.
package partition
