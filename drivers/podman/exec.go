package podman

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tether-edge/tether/drivers"
)

// Exec runs a command in the task's container through libpod's exec API:
//
//	POST /libpod/containers/<id>/exec      create: command, tty, attach
//	POST /libpod/exec/<exec id>/start      hijacked: stdin in, output out
//	POST /libpod/exec/<exec id>/resize     terminal size (tty)
//	GET  /libpod/exec/<exec id>/json       the exit code
//
// Without a tty the output is multiplexed in frames (readFrame), as the
// logs endpoint's; with one it is the terminal's raw bytes.

var _ drivers.Execer = (*handle)(nil)

// execCreate is the body of POST /containers/<id>/exec.
type execCreate struct {
	AttachStdin  bool     `json:"AttachStdin"`
	AttachStdout bool     `json:"AttachStdout"`
	AttachStderr bool     `json:"AttachStderr"`
	Tty          bool     `json:"Tty"`
	Cmd          []string `json:"Cmd"`
}

// execInspect is the part of GET /exec/<id>/json the driver reads.
type execInspect struct {
	Running  bool `json:"Running"`
	ExitCode int  `json:"ExitCode"`
}

// Exec implements drivers.Execer.
func (h *handle) Exec(ctx context.Context, o drivers.ExecOptions) (int, error) {
	c := h.d.client
	var created struct {
		ID string `json:"Id"`
	}
	body := execCreate{AttachStdin: o.Stdin != nil, AttachStdout: true, AttachStderr: true, Tty: o.TTY, Cmd: o.Command}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	err := c.call(cctx, http.MethodPost, "/containers/"+h.id+"/exec", nil, body, &created)
	cancel()
	if err != nil {
		return -1, fmt.Errorf("podman driver: exec in %s: %w", h.name, err)
	}
	conn, stream, err := c.startExec(ctx, created.ID, o)
	if err != nil {
		return -1, fmt.Errorf("podman driver: start exec in %s: %w", h.name, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var wg sync.WaitGroup
	done := make(chan struct{})
	if o.TTY && o.Resize != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case sz := <-o.Resize:
					c.resizeExec(ctx, created.ID, sz)
				case <-done:
					return
				}
			}
		}()
	}
	if o.Stdin != nil {
		go func() { // not waited for: it ends when o.Stdin ends or the connection closes
			_, _ = io.Copy(conn, o.Stdin)
			if cw, ok := conn.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
		}()
	}
	if o.TTY {
		_, err = io.Copy(o.Stdout, stream)
	} else {
		err = demux(stream, o.Stdout, o.Stderr)
	}
	close(done)
	wg.Wait()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		return -1, fmt.Errorf("podman driver: exec in %s: reading its output: %w", h.name, err)
	}
	// The stream ends as the command exits; its exit code may lag a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ins execInspect
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		err := c.call(cctx, http.MethodGet, "/exec/"+created.ID+"/json", nil, nil, &ins)
		cancel()
		if err != nil {
			return -1, fmt.Errorf("podman driver: exit code of exec in %s: %w", h.name, err)
		}
		if !ins.Running || time.Now().After(deadline) {
			return ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startExec starts an exec session on its own connection and returns the
// connection (stdin goes to it) and the reader of its output.
func (c *client) startExec(ctx context.Context, id string, o drivers.ExecOptions) (net.Conn, io.Reader, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, nil, fmt.Errorf("podman API on %s: %w", c.socket, err)
	}
	start := map[string]any{"Detach": false, "Tty": o.TTY}
	if o.TTY && o.Size.Width > 0 && o.Size.Height > 0 {
		start["h"], start["w"] = o.Size.Height, o.Size.Width
	}
	b, _ := json.Marshal(start)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://podman"+apiPrefix+"/exec/"+url.PathEscape(id)+"/start", bytes.NewReader(b))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	_ = conn.SetDeadline(time.Now().Add(c.timeout))
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer conn.Close()
		return nil, nil, decodeAPIError(resp)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, br, nil
}

// resizeExec sets an exec session's terminal size.
func (c *client) resizeExec(ctx context.Context, id string, sz drivers.TermSize) {
	if sz.Width == 0 || sz.Height == 0 {
		return
	}
	q := url.Values{"h": {strconv.Itoa(int(sz.Height))}, "w": {strconv.Itoa(int(sz.Width))}}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_ = c.call(cctx, http.MethodPost, "/exec/"+url.PathEscape(id)+"/resize", q, nil, nil)
}

// demux copies a multiplexed stream's frames to stdout and stderr.
func demux(r io.Reader, stdout, stderr io.Writer) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	var buf []byte
	for {
		stream, p, err := readFrame(br, buf)
		buf = p
		if err != nil {
			return err
		}
		w := stdout
		if stream == streamStderr {
			w = stderr
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
}
