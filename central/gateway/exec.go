package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// MaxExecPerNode bounds the exec sessions central relays to one node
// (the agent has the same bound).
const MaxExecPerNode = 4

// execOutQueue bounds the agent's frames waiting for the reader; the
// agent's credit (protocol.ExecWindow) keeps their bytes bounded, this
// their number. More means the agent ignores its credit: the session ends.
const execOutQueue = 1024

// Errors of exec sessions.
var (
	ErrExecBusy = errors.New("gateway: too many exec sessions to this node")
	// ErrExecSilent ends a session whose agent sent nothing for
	// protocol.ExecDeadAfter seconds.
	ErrExecSilent = errors.New("gateway: the agent stopped answering")
	// ErrExecOverflow ends a session whose agent sent more than its credit.
	ErrExecOverflow = errors.New("gateway: the agent sent more output than it was allowed")
)

// execSlots counts open sessions by node, and the sessions ended because
// their agent overran its credit.
type execSlots struct {
	mu       sync.Mutex // guards byNode
	byNode   map[string]int
	overflow atomic.Uint64
}

func (e *execSlots) take(node string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byNode == nil {
		e.byNode = map[string]int{}
	}
	if e.byNode[node] >= MaxExecPerNode {
		return false
	}
	e.byNode[node]++
	return true
}

func (e *execSlots) give(node string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byNode[node]--; e.byNode[node] <= 0 {
		delete(e.byNode, node)
	}
}

// ExecStream is one exec session relayed to an agent: the agent's frames
// arrive on C (closed when the session ends: Err then says why, nil for
// a normal end after the exit frame). Write, CloseStdin, Resize and
// Passed send central's signed frames; Close ends the session.
type ExecStream struct {
	C <-chan *protocol.ExecOut

	g      *Gateway
	client paho.Client
	node   string
	id     string
	in     string // topic of frames to the agent
	out    string // topic of the agent's frames
	c      chan *protocol.ExecOut
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex // guards the fields below
	credit   *sync.Cond // signalled when the agent acknowledges stdin, and at the end
	seq      uint64     // last frame sent
	inSent   uint64     // stdin bytes sent
	inAcked  uint64     // stdin bytes the agent took
	passed   uint64     // output bytes passed on by the reader
	ackSent  uint64     // passed, as last told to the agent
	outSeq   uint64     // last agent frame taken
	heard    time.Time  // the agent's last frame
	finished bool       // C closed
	err      error
}

// OpenExec subscribes to the session's output topic on the broker the
// node was last heard through, then publishes req, signed, to the node.
func (g *Gateway) OpenExec(ctx context.Context, nodeID string, req protocol.ExecRequest) (*ExecStream, error) {
	if len(g.clients) == 0 {
		return nil, ErrNotConnected
	}
	if !g.exec.take(nodeID) {
		return nil, fmt.Errorf("%w (at most %d at once)", ErrExecBusy, MaxExecPerNode)
	}
	site := g.heardThrough(nodeID)
	req.V, req.NodeID = protocol.Version, nodeID
	req.Expires = time.Now().Add(protocol.ExecRequestTTL * time.Second).UnixMilli()
	if err := protocol.SignExecRequest(&req, g.signingKeys()...); err != nil {
		g.exec.give(nodeID)
		return nil, fmt.Errorf("gateway: sign exec request: %w", err)
	}
	c := make(chan *protocol.ExecOut, execOutQueue)
	s := &ExecStream{C: c, c: c, g: g, client: g.clients[site], node: nodeID, id: req.Session,
		in: g.topics.ExecIn(nodeID, req.Session), out: g.topics.ExecOut(nodeID, req.Session),
		done: make(chan struct{}), heard: time.Now()}
	s.credit = sync.NewCond(&s.mu)
	tok := s.client.Subscribe(s.out, 1, func(_ paho.Client, m paho.Message) { s.take(m) })
	if err := waitToken(ctx, tok); err != nil {
		s.client.Unsubscribe(s.out)
		g.exec.give(nodeID)
		return nil, fmt.Errorf("gateway: subscribe %s: %w", s.out, err)
	}
	b, err := protocol.Encode(&req)
	if err == nil {
		err = g.publish(s.client, g.topics.Exec(nodeID), 1, false, b)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	go s.keepalive()
	return s, nil
}

// take handles one of the agent's frames (paho's goroutine).
func (s *ExecStream) take(m paho.Message) {
	s.g.received.Add(1)
	var f protocol.ExecOut
	if err := protocol.Decode(m.Payload(), &f); err != nil || f.Session != s.id || len(f.Stdout) > protocol.MaxExecChunk || len(f.Stderr) > protocol.MaxExecChunk {
		s.g.drop(m.Topic(), fmt.Errorf("malformed exec frame: %w", err))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || f.Seq <= s.outSeq {
		return // a QoS 1 duplicate, or after the end
	}
	s.outSeq, s.heard = f.Seq, time.Now()
	if f.Ack > s.inAcked && f.Ack <= s.inSent {
		s.inAcked = f.Ack
		s.credit.Broadcast()
	}
	if len(f.Stdout) == 0 && len(f.Stderr) == 0 && !f.Exited && f.Err == "" {
		return // an ack or keepalive
	}
	select {
	case s.c <- &f:
	default:
		s.g.exec.overflow.Add(1)
		s.finishLocked(ErrExecOverflow)
		return
	}
	if f.Exited || f.Err != "" {
		s.finishLocked(nil)
	}
}

func (s *ExecStream) finishLocked(err error) {
	if s.finished {
		return
	}
	s.finished, s.err = true, err
	close(s.c)
	s.credit.Broadcast()
}

// Err says why C was closed early (nil: the session ended normally).
func (s *ExecStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// sendLocked numbers, signs and publishes f.
func (s *ExecStream) sendLocked(f protocol.ExecIn) error {
	s.seq++
	f.V, f.Session, f.Seq = protocol.Version, s.id, s.seq
	if s.passed > s.ackSent {
		f.Ack, s.ackSent = s.passed, s.passed
	}
	if err := protocol.SignExecIn(&f, s.g.signingKeys()...); err != nil {
		return fmt.Errorf("gateway: sign exec frame: %w", err)
	}
	b, err := protocol.Encode(&f)
	if err != nil {
		return fmt.Errorf("gateway: encode exec frame: %w", err)
	}
	return s.g.publish(s.client, s.in, 1, false, b)
}

func (s *ExecStream) send(f protocol.ExecIn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendLocked(f)
}

// Write sends p as stdin, in chunks, waiting while ExecWindow bytes are
// unacknowledged. It fails once the session has ended.
func (s *ExecStream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), protocol.MaxExecChunk)]
		s.mu.Lock()
		for s.inSent-s.inAcked+uint64(len(chunk)) > protocol.ExecWindow && !s.finished {
			s.credit.Wait()
		}
		if s.finished {
			s.mu.Unlock()
			return n, errors.New("gateway: exec session ended")
		}
		s.inSent += uint64(len(chunk))
		err := s.sendLocked(protocol.ExecIn{Stdin: chunk})
		s.mu.Unlock()
		if err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// CloseStdin tells the agent that stdin ended.
func (s *ExecStream) CloseStdin() error { return s.send(protocol.ExecIn{EOF: true}) }

// Resize tells the agent the terminal's new size.
func (s *ExecStream) Resize(width, height uint16) error {
	if width == 0 || height == 0 {
		return nil
	}
	return s.send(protocol.ExecIn{Width: width, Height: height})
}

// Passed records that n more output bytes reached the operator; the
// agent hears of it (its credit) once a quarter window has passed, or
// with the next keepalive.
func (s *ExecStream) Passed(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.passed += uint64(n)
	if s.passed-s.ackSent >= protocol.ExecWindow/4 && !s.finished {
		_ = s.sendLocked(protocol.ExecIn{})
	}
}

// keepalive sends a frame every ExecKeepalive seconds and ends the
// session when the agent has been silent for ExecDeadAfter seconds.
func (s *ExecStream) keepalive() {
	t := time.NewTicker(protocol.ExecKeepalive * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.finished {
			s.mu.Unlock()
			return
		}
		if time.Since(s.heard) > protocol.ExecDeadAfter*time.Second {
			s.finishLocked(ErrExecSilent)
			s.mu.Unlock()
			return
		}
		_ = s.sendLocked(protocol.ExecIn{})
		s.mu.Unlock()
	}
}

// Close ends the session: the agent kills the command if it still runs.
func (s *ExecStream) Close() {
	s.once.Do(func() {
		close(s.done)
		s.mu.Lock()
		if !s.finished {
			_ = s.sendLocked(protocol.ExecIn{Close: true})
			s.finishLocked(nil)
		}
		s.mu.Unlock()
		s.client.Unsubscribe(s.out)
		s.g.exec.give(s.node)
	})
}

// Output is C.
func (s *ExecStream) Output() <-chan *protocol.ExecOut { return s.C }
