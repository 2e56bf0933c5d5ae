package server

import (
	"context"
	"fmt"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// OpenExec starts an exec session on the allocation's node over MQTT
// (gateway.OpenExec): only the leader holds the broker connections, so on
// a follower it answers api.ExecNotLeaderError and the API redirects the
// client to the leader.
func (s *Server) OpenExec(ctx context.Context, req api.ExecRequest) (api.ExecStream, error) {
	l := s.currentLeader()
	if l == nil {
		return nil, &api.ExecNotLeaderError{Leader: s.Leader()}
	}
	n := s.store.NodeByID(req.NodeID)
	if n == nil {
		return nil, fmt.Errorf("%w: node %q of allocation %s is not registered", api.ErrExecUnavailable, req.NodeID, req.AllocID)
	}
	if n.Status != structs.NodeReady {
		return nil, fmt.Errorf("%w: node %s is %s; exec works once it is ready again", api.ErrExecUnavailable, n.Name, n.Status)
	}
	if n.Attributes[protocol.AttrExec] != "1" {
		return nil, fmt.Errorf("%w: the agent on node %s (version %q) predates alloc exec: upgrade it", api.ErrExecUnsupported, n.Name, n.Version)
	}
	st, err := l.gw.OpenExec(ctx, n.ID, protocol.ExecRequest{
		Session: structs.GenerateID(), AllocID: req.AllocID, Task: req.Task, Command: req.Command,
		TTY: req.TTY, Width: req.Width, Height: req.Height,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", api.ErrExecUnavailable, err)
	}
	return st, nil
}

var _ api.ExecBackend = (*Server)(nil)
