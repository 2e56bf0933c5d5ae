package server

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/nodestats"
	"github.com/tether-edge/tether/protocol"
)

// opsStats holds what the leader measures for metrics beyond its plain
// counters: each node's last heartbeat (with the agent's counters) and the
// scheduler's latency. Its zero value is ready to use.
type opsStats struct {
	mu     sync.Mutex         // guards the fields below
	agents map[string]agentHB // node ID → last heartbeat
	evals  uint64             // evaluations scheduled
	sum    time.Duration      // their total scheduling time
	last   time.Duration      // the latest one's
	max    time.Duration      // the slowest one's
	// hist is each node's last hour of device metrics (nodestats; it
	// has its own lock).
	hist nodestats.History
}

// agentHB is a node's last heartbeat and when the leader received it.
type agentHB struct {
	at time.Time
	hb protocol.Heartbeat
}

// heartbeat records a node's heartbeat: O(1), under the lock only.
func (o *opsStats) heartbeat(nodeID string, hb *protocol.Heartbeat, now time.Time) {
	if hb == nil {
		return
	}
	o.mu.Lock()
	if o.agents == nil {
		o.agents = map[string]agentHB{}
	}
	o.agents[nodeID] = agentHB{at: now, hb: *hb}
	o.mu.Unlock()
	o.hist.Record(nodeID, now, hb)
}

// scheduled records one evaluation's scheduling time; use as
// defer l.ops.scheduled(time.Now()).
func (o *opsStats) scheduled(start time.Time) {
	d := time.Since(start)
	o.mu.Lock()
	o.evals++
	o.sum += d
	o.last = d
	o.max = max(o.max, d)
	o.mu.Unlock()
}

// LastHeartbeat returns when the leader last heard a node's heartbeat
// (zero if never, or if this server does not lead).
func (s *Server) LastHeartbeat(nodeID string) time.Time {
	l := s.currentLeader()
	if l == nil {
		return time.Time{}
	}
	l.ops.mu.Lock()
	defer l.ops.mu.Unlock()
	return l.ops.agents[nodeID].at
}

// Metrics returns the server's samples: Raft, and on the leader its
// message, scheduler and per-agent counters. The API adds the state
// store's gauges (nodes, allocs, evaluations by status).
func (s *Server) Metrics() []api.Metric {
	var out []api.Metric
	stats := s.raft.Stats()
	isLeader := 0.0
	if s.currentLeader() != nil {
		isLeader = 1
	}
	num := func(k string) float64 {
		v, _ := strconv.ParseFloat(stats[k], 64)
		return v
	}
	out = append(out,
		api.Gauge("tether_raft_leader", "1 if this server leads the Raft cluster.", isLeader),
		api.Gauge("tether_raft_term", "Current Raft term.", num("term")),
		api.Gauge("tether_raft_last_log_index", "Index of the last Raft log entry.", num("last_log_index")),
		api.Gauge("tether_raft_commit_index", "Raft commit index.", num("commit_index")),
		api.Gauge("tether_raft_applied_index", "Last Raft index applied to the state store.", num("applied_index")),
		api.Gauge("tether_raft_peers", "Other voters in the Raft configuration.", num("num_peers")),
	)
	if s.raftStream != nil { // set once in New
		out = append(out, api.Counter("tether_raft_refused_connections_total", "Connections to the Raft port refused for failing to authenticate as a server of this cluster (TLS or join secret).", float64(s.raftStream.Refused())))
	}
	if s.broker != nil { // set once in New
		bc := s.broker.Counters()
		out = append(out,
			api.Counter("tether_mqtt_broker_refused_connects_total", "CONNECTs the embedded broker refused (-mqtt-auth): a missing or wrong login, a client ID the login does not own, a Will on a topic it may not publish to.", float64(bc.RefusedConnects)),
			api.Counter("tether_mqtt_broker_refused_client_ids_total", "CONNECTs refused for a client ID the login does not own (included in refused_connects).", float64(bc.RefusedClientIDs)),
			api.Counter("tether_mqtt_broker_refused_wills_total", "CONNECTs refused for a Will on a topic the login may not publish to (included in refused_connects).", float64(bc.RefusedWills)),
			api.Counter("tether_mqtt_broker_over_limit_total", "Connections the embedded broker closed at once because mqtt_max_conns were open.", float64(bc.OverLimit)),
			api.Counter("tether_mqtt_broker_accept_errors_total", "Failed accepts on the embedded broker's listener (EMFILE...), each retried after a backoff.", float64(bc.AcceptErrors)),
			api.Counter("tether_mqtt_broker_denied_total", "Publishes and subscribes the embedded broker's topic ACL refused (-mqtt-auth).", float64(bc.DeniedTopics)),
			api.Counter("tether_mqtt_broker_too_large_total", "Clients the embedded broker disconnected for a packet over its maximum packet size.", float64(bc.TooLarge)),
		)
	}
	out = append(out, s.gcMetrics()...)  // gc.go
	out = append(out, s.otaMetrics()...) // agent release downloads (ota.go)
	l := s.currentLeader()
	if l == nil {
		return out
	}
	st := l.stats()
	gw := l.gw.Counters()
	out = append(out,
		api.Counter("tether_mqtt_messages_in_total", "MQTT messages received from agents.", float64(gw.Received)),
		api.Counter("tether_mqtt_messages_out_total", "MQTT messages published to agents.", float64(gw.Published)),
		api.Counter("tether_mqtt_publish_refused_total", "Messages to agents refused for being over the broker's size limit.", float64(l.gw.RefusedPublishes())),
		api.Counter("tether_mqtt_withheld_total", "Retained messages (desired states, service sets) not queued for a broker whose connection was down; its next connection publishes them all again.", float64(l.gw.Withheld())),
	)
	drops := l.gw.Drops()
	for _, k := range sortedKeys(drops) {
		out = append(out, api.Counter("tether_mqtt_dropped_total", "Inbound MQTT messages dropped, by reason.", float64(drops[k]), "reason", k))
	}
	out = append(out,
		api.Counter("tether_mqtt_broker_connects_total", "Connections of central to its brokers (more than the number of brokers means reconnects).", float64(l.gw.Connects())),
		api.Counter("tether_agent_hellos_total", "Hellos received: agent starts and reconnects.", float64(st["hellos"])),
		api.Counter("tether_agent_heartbeats_total", "Heartbeats received.", float64(st["heartbeats"])),
		api.Counter("tether_agent_updates_total", "Update batches received.", float64(st["updates"])),
		api.Counter("tether_nodes_down_total", "Nodes marked down by this leader.", float64(st["nodes_down"])),
		api.Counter("tether_scheduler_plans_total", "Plans computed.", float64(st["plans"])),
		api.Gauge("tether_evals_queued", "Evaluations waiting for the scheduler.", float64(st["evals_queued"])),
		api.Gauge("tether_evals_delayed", "Follow-up evaluations waiting for their time (reschedule delays).", float64(st["evals_delayed"])),
		api.Gauge("tether_leader_inbox_waiting", "Agent messages read from the brokers and waiting for the leader loop.", float64(st["inbox_waiting"])),
		api.Gauge("tether_leader_inbox_peak", "Most agent messages waiting for the leader loop at once.", float64(st["inbox_peak"])),
		api.Counter("tether_desired_resent_total", "Desired states published again to a node whose heartbeats showed it never got the last one.", float64(l.sent.resent.Load())),
		api.Counter("tether_leader_inbox_dropped_total", "Agent messages dropped because the leader loop's inbox was full.", float64(st["inbox_dropped"])),
	)
	out = append(out, api.Counter("tether_node_registrations_refused_total", "Hellos refused because another node that is not down holds the node's name.", float64(l.namesRefused.Load())))
	sizes := l.entrySizes()
	for _, k := range sortedKeys(sizes) {
		out = append(out, api.Gauge("tether_leader_node_entries", "Nodes the leader holds something about, by map (bounded by the registered nodes; see docs/security.md).", float64(sizes[k]), "map", k))
	}
	for _, k := range sortedKeys(l.entries.pruned) {
		out = append(out, api.Counter("tether_leader_node_entries_pruned_total", "Entries dropped from the leader's node maps for nodes the state store does not hold, by map.", float64(l.entries.pruned[k].Load()), "map", k))
	}
	l.ops.mu.Lock()
	out = append(out,
		api.Counter("tether_scheduler_evals_total", "Evaluations scheduled.", float64(l.ops.evals)),
		api.Counter("tether_scheduler_seconds_total", "Time spent scheduling and committing evaluations.", l.ops.sum.Seconds()),
		api.Gauge("tether_scheduler_last_seconds", "Scheduling time of the latest evaluation.", l.ops.last.Seconds()),
		api.Gauge("tether_scheduler_max_seconds", "Slowest evaluation since this server became leader.", l.ops.max.Seconds()),
	)
	ids := sortedKeys(l.ops.agents)
	agents := make([]agentHB, len(ids))
	for i, id := range ids {
		agents[i] = l.ops.agents[id]
	}
	l.ops.mu.Unlock()
	for i, id := range ids {
		a := agents[i]
		out = append(out,
			api.Gauge("tether_agent_last_heartbeat_seconds", "Unix time of the node's last heartbeat at the leader.", float64(a.at.UnixMilli())/1000, "node", id),
			api.Gauge("tether_agent_running_allocs", "Running allocations the agent reported.", float64(a.hb.Running), "node", id),
			api.Gauge("tether_agent_tasks", "Running tasks the agent reported.", float64(a.hb.Tasks), "node", id),
			api.Counter("tether_agent_task_restarts_total", "Restarts of the tasks the agent holds.", float64(a.hb.Restarts), "node", id),
			api.Gauge("tether_agent_outbox", "Updates the agent holds unacknowledged.", float64(a.hb.Outbox), "node", id),
			api.Counter("tether_agent_mqtt_reconnects_total", "MQTT reconnects since the agent started.", float64(a.hb.Reconnects), "node", id),
		)
		if used, avail := a.hb.Disk(); used+avail > 0 { // agents that send them (protocol.Heartbeat)
			out = append(out,
				api.Gauge("tether_agent_disk_used_bytes", "The agent's data dir filesystem: bytes in use at its last GC check.", float64(used), "node", id),
				api.Gauge("tether_agent_disk_avail_bytes", "The agent's data dir filesystem: bytes available to it at its last GC check.", float64(avail), "node", id),
				api.Counter("tether_agent_gc_removed_total", "Finished allocations' directories the agent's GC removed since it started.", float64(a.hb.GCRemoved), "node", id),
			)
		}
		if a.hb.MemUsedMiB > 0 { // agents that send device metrics (protocol.Heartbeat keys 13-15)
			out = append(out,
				api.Gauge("tether_agent_cpu_percent", "Busy CPU of all the node's cores between its last two heartbeats.", float64(a.hb.CPU)/10, "node", id),
				api.Gauge("tether_agent_memory_used_bytes", "Memory in use on the node (MemTotal - MemAvailable) at its last heartbeat.", float64(a.hb.MemUsedMiB<<20), "node", id),
				api.Gauge("tether_agent_memory_total_bytes", "The node's memory, as its hello gave it.", float64(s.memTotalBytes(id)), "node", id),
				api.Gauge("tether_agent_load1", "The node's 1-minute load average at its last heartbeat.", float64(a.hb.Load1)/100, "node", id),
			)
		}
		if a.hb.SoCTemp != 0 { // boards with a sensor
			out = append(out, api.Gauge("tether_agent_temperature_celsius", "The board's SoC temperature at the node's last heartbeat.", float64(a.hb.SoCTemp)/10, "node", id))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
