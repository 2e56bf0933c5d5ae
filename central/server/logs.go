package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// logsAnswerTimeout bounds the wait for an agent's first (and, when not
// following, every next) log chunk.
const logsAnswerTimeout = 10 * time.Second

// StreamLogs asks the alloc's agent for a task's log over MQTT and copies
// the chunks to w. Nothing is streamed unless someone reads: the reply
// topic is subscribed for the life of the call, a follow is renewed every
// protocol.LogRenewEvery seconds and cancelled when the reader leaves.
// Only the leader holds a broker connection: a follower relays the HTTP
// read to the leader (logsViaLeader, forward.go), and answers
// api.ErrLogsUnavailable only while leadership is changing.
func (s *Server) StreamLogs(ctx context.Context, req api.LogsRequest, w io.Writer) error {
	l := s.currentLeader()
	if l == nil {
		return fmt.Errorf("%w: this server does not lead the cluster; ask the leader (central server members)", api.ErrLogsUnavailable)
	}
	n := s.store.NodeByID(req.NodeID)
	if n == nil {
		return fmt.Errorf("%w: node %q of allocation %s is not registered", api.ErrLogsUnavailable, req.NodeID, req.AllocID)
	}
	if n.Status != structs.NodeReady {
		return fmt.Errorf("%w: node %s is %s; logs can be read once it is ready again", api.ErrLogsUnavailable, n.Name, n.Status)
	}
	stream, err := l.gw.OpenLogs(ctx, n.ID, protocol.LogsRequest{
		ID: structs.GenerateID(), AllocID: req.AllocID, Task: req.Task,
		Stderr: req.Stderr, Follow: req.Follow, Lines: req.Lines,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", api.ErrLogsUnavailable, err)
	}
	defer stream.Close()
	renew := time.NewTicker(protocol.LogRenewEvery * time.Second)
	defer renew.Stop()
	idle := time.NewTimer(logsAnswerTimeout)
	defer idle.Stop()
	var next uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-renew.C:
			if req.Follow {
				_ = stream.Renew()
			}
		case <-idle.C:
			if next == 0 {
				return fmt.Errorf("%w: agent on node %s did not answer within %s", api.ErrLogsUnavailable, n.Name, logsAnswerTimeout)
			}
			if !req.Follow {
				return fmt.Errorf("log stream from node %s stalled", n.Name)
			}
			idle.Reset(logsAnswerTimeout)
		case c := <-stream.C:
			if c.Seq < next {
				continue // a QoS 1 duplicate
			}
			if c.Seq > next {
				fmt.Fprintf(w, "\n[tether: %d log chunks lost]\n", c.Seq-next)
			}
			next = c.Seq + 1
			if len(c.Data) > 0 {
				if _, err := w.Write(c.Data); err != nil {
					return err
				}
			}
			if c.Err != "" {
				return fmt.Errorf("%w: agent on node %s: %s", api.ErrLogsUnavailable, n.Name, c.Err)
			}
			if c.EOF {
				return nil
			}
			if !req.Follow {
				idle.Reset(logsAnswerTimeout)
			}
		}
	}
}
