package api

import (
	"time"

	"github.com/tether-edge/tether/central/ui"
)

// uiBackend adapts a Backend to the web UI's needs.
type uiBackend struct{ b Backend }

func (u uiBackend) State() ui.Reader { return u.b.State() }

func (u uiBackend) Members() []ui.Member {
	ms := u.b.Members()
	out := make([]ui.Member, len(ms))
	for i, m := range ms {
		out[i] = ui.Member{Name: m.Name, Address: m.Address, Status: m.Status, Leader: m.Leader}
	}
	return out
}

// LastHeartbeat asks the backend when it has the answer (the server's
// leader tracks heartbeats in memory).
func (u uiBackend) LastHeartbeat(nodeID string) time.Time {
	if h, ok := u.b.(interface{ LastHeartbeat(string) time.Time }); ok {
		return h.LastHeartbeat(nodeID)
	}
	return time.Time{}
}
