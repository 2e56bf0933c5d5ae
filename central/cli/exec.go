package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/term"

	"github.com/tether-edge/tether/central/api"
)

func execVerbs() map[string]verb {
	return map[string]verb{
		"alloc exec": {"Run a command in a running task, interactively (stdin, a terminal, its exit code)",
			"[-i] [-t] [-task T] [-job] [-e ESC] ALLOC|JOB CMD [ARGS...]", (*env).allocExec},
	}
}

// allocExec is `central alloc exec`, as Nomad's: -i (default true) sends
// stdin, -t (default: stdin is a terminal) runs the command on a
// terminal, -task names the task when the group has several, -job takes
// a job ID and picks one of its running allocations, -e sets the escape
// character of a -t session ("~" by default; "none" disables it): ESC . at
// the start of a line closes the session. The exit code is the command's.
func (e *env) allocExec(args []string) int {
	fs := e.flags()
	stdinTTY := term.IsTerminal(int(os.Stdin.Fd()))
	interactive := fs.Bool("i", true, "pass stdin to the command")
	tty := fs.Bool("t", stdinTTY, "run the command on a terminal (default: whether stdin is a terminal)")
	task := fs.String("task", "", "the task to run in (required when the allocation has several)")
	byJob := fs.Bool("job", false, "the first argument is a job ID: use one of its running allocations")
	escape := fs.String("e", "~", `escape character (with -t): ESC followed by "." at the start of a line closes the session; "none" disables it`)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() < 2 {
		fmt.Fprintf(e.stderr, "Error: central %s takes %s, got %d argument(s).\n\n", e.verb, e.verbArgs, fs.NArg())
		fs.Usage()
		return exitUsage
	}
	var esc byte
	switch {
	case *escape == "none":
	case len(*escape) == 1:
		esc = (*escape)[0]
	default:
		return e.usageFail("with -e", fmt.Errorf("%q: want one character or none", *escape))
	}
	if !*tty {
		esc = 0 // as ssh's: escapes only on a terminal, so piped stdin passes as it is
	}
	alloc := fs.Arg(0)
	if *byJob {
		var err error
		if alloc, err = e.runningAllocOf(alloc); err != nil {
			return e.fail("finding an allocation", err)
		}
	}
	cmd, _ := json.Marshal(fs.Args()[1:])
	q := url.Values{"command": {string(cmd)}, "tty": {fmt.Sprint(*tty)}}
	if *task != "" {
		q.Set("task", *task)
	}
	if e.namespace != "" {
		q.Set("namespace", e.namespace)
	}
	code, err := e.execSession(alloc, q, *interactive, *tty, esc)
	if err != nil {
		return e.fail("running the command", err)
	}
	return code
}

// runningAllocOf picks a running allocation of a job.
func (e *env) runningAllocOf(job string) (string, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	var allocs []struct {
		ID           string `json:"id"`
		ClientStatus string `json:"client_status"`
	}
	if _, _, err := e.get(ctx, "/v1/job/"+url.PathEscape(job)+"/allocations", e.nsQuery(), &allocs); err != nil {
		return "", err
	}
	for _, a := range allocs {
		if a.ClientStatus == "running" {
			return a.ID, nil
		}
	}
	return "", fmt.Errorf("job %q has no running allocation", job)
}

// execSession dials the websocket (following one redirect to the
// leader), relays the terminal and returns the command's exit code.
func (e *env) execSession(alloc string, q url.Values, interactive, tty bool, esc byte) (int, error) {
	u, err := url.Parse(e.address + "/v1/client/allocation/" + url.PathEscape(alloc) + "/exec?" + q.Encode())
	if err != nil {
		return 0, err
	}
	u.Scheme = map[string]string{"https": "wss"}[u.Scheme]
	if u.Scheme == "" {
		u.Scheme = "ws"
	}
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, Proxy: http.ProxyFromEnvironment}
	switch tr := e.http.Transport.(type) {
	case *tlsTransport: // the CLI's -ca-cert, -client-cert, -client-key (tls_client.go)
		tr.once.Do(tr.build)
		if tr.err != nil {
			return 0, tr.err
		}
		if h, ok := tr.rt.(*http.Transport); ok {
			d.TLSClientConfig = h.TLSClientConfig
		}
	case *http.Transport:
		d.TLSClientConfig = tr.TLSClientConfig
	}
	h := http.Header{}
	if e.token != "" {
		h.Set(TokenHeader, e.token)
	}
	ws, resp, err := d.Dial(u.String(), h)
	if err != nil && resp != nil && resp.StatusCode == http.StatusTemporaryRedirect {
		if loc, lerr := resp.Location(); lerr == nil { // a follower names the leader
			loc.Scheme = u.Scheme
			ws, resp, err = d.Dial(loc.String(), h)
		}
	}
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			var eb struct {
				Error string `json:"error"`
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
				eb.Error = strings.TrimSpace(string(b))
			}
			return 0, &apiError{code: resp.StatusCode, msg: eb.Error}
		}
		return 0, err
	}
	defer ws.Close()
	var wmu sync.Mutex // one writer at a time
	send := func(f api.ExecFrame) error {
		wmu.Lock()
		defer wmu.Unlock()
		return ws.WriteJSON(f)
	}
	fd := int(os.Stdin.Fd())
	if tty && term.IsTerminal(fd) {
		old, err := term.MakeRaw(fd)
		if err == nil {
			defer term.Restore(fd, old)
		}
		sendSize := func() {
			if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
				_ = send(api.ExecFrame{TTYSize: &api.ExecTTYSize{Width: uint16(w), Height: uint16(h)}})
			}
		}
		sendSize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize()
			}
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if interactive {
		go e.pumpStdin(ctx, cancel, os.Stdin, send, esc, ws)
	} else {
		_ = send(api.ExecFrame{Stdin: &api.ExecData{Close: true}})
	}
	for {
		var f api.ExecFrame
		if err := ws.ReadJSON(&f); err != nil {
			if ctx.Err() != nil {
				return 0, nil
			}
			return 0, fmt.Errorf("the session broke: %w", err)
		}
		switch {
		case f.Stdout != nil:
			_, _ = e.stdout.Write(f.Stdout.Data)
		case f.Stderr != nil:
			_, _ = e.stderr.Write(f.Stderr.Data)
		case f.Exited && f.Result != nil:
			return f.Result.ExitCode, nil
		case f.Exited:
			if ctx.Err() != nil {
				return 0, nil
			}
			return 0, errors.New(f.Error)
		}
	}
}

// pumpStdin sends stdin, watching for ESC . at the start of a line,
// which closes the session.
func (e *env) pumpStdin(ctx context.Context, cancel context.CancelFunc, in io.Reader, send func(api.ExecFrame) error, esc byte, ws *websocket.Conn) {
	buf := make([]byte, 16<<10)
	ef := escapeFilter{esc: esc, lineStart: true}
	for {
		n, err := in.Read(buf)
		if n > 0 {
			data, closed := ef.feed(buf[:n])
			if len(data) > 0 {
				if send(api.ExecFrame{Stdin: &api.ExecData{Data: data}}) != nil {
					return
				}
			}
			if closed {
				cancel()
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "escape"), time.Now().Add(time.Second))
				_ = ws.Close()
				return
			}
		}
		if err != nil {
			_ = send(api.ExecFrame{Stdin: &api.ExecData{Close: true}})
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// escapeFilter finds ssh's escape sequences in typed input: ESC . at the
// start of a line closes the session, ESC ESC sends one ESC; ESC followed
// by anything else sends both. esc 0 passes everything.
type escapeFilter struct {
	esc       byte
	lineStart bool // the next byte starts a line
	sawEsc    bool // an ESC at the start of a line is held
}

// feed returns what to send of p (a new slice) and whether the session
// is to be closed (what came before the escape is returned with it).
func (f *escapeFilter) feed(p []byte) ([]byte, bool) {
	if f.esc == 0 {
		return append([]byte(nil), p...), false
	}
	out := make([]byte, 0, len(p)+1)
	for _, c := range p {
		switch {
		case f.sawEsc && c == '.':
			f.sawEsc = false
			return out, true
		case f.sawEsc:
			f.sawEsc = false
			out = append(out, f.esc)
			if c == f.esc {
				f.lineStart = false
				continue
			}
		case f.lineStart && c == f.esc:
			f.sawEsc = true
			continue
		}
		out = append(out, c)
		f.lineStart = c == '\r' || c == '\n'
	}
	return out, false
}
