package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
)

// alloc restart, signal and stop (the API's lifecycle.go). Restart and
// signal wait for the agent's task event that confirms them; stop
// monitors the evaluation that places the replacement.

func lifecycleVerbs() map[string]verb {
	return map[string]verb{
		"alloc restart": {"Restart an allocation's tasks in place (new process, same allocation)", "[options] [-task T] ALLOC [TASK]", (*env).allocRestart},
		"alloc signal":  {"Send a signal to an allocation's tasks (default SIGINT)", "[options] [-s SIG] [-task T] ALLOC [TASK]", (*env).allocSignal},
		"alloc stop":    {"Stop an allocation; the scheduler places a replacement", "[options] [-detach] ALLOC", (*env).allocStop},
	}
}

// actionResponse mirrors api.ActionResponse.
type actionResponse struct {
	AllocID string `json:"alloc_id"`
	NodeID  string `json:"node_id"`
	Seq     uint64 `json:"seq"`
	Index   uint64 `json:"index"`
	Task    string `json:"task,omitempty"`
	Signal  string `json:"signal,omitempty"`
}

func (e *env) allocRestart(args []string) int {
	fs := e.flags()
	e.jsonFlag(fs)
	task := fs.String("task", "", "restart only this task (default: every running task)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the agent to confirm")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 2) {
		return exitUsage
	}
	if *task == "" {
		*task = fs.Arg(1) // -task wins over the argument, as Nomad's
	}
	return e.allocAct(fs.Arg(0), "restart", map[string]string{"task_name": *task}, *timeout)
}

func (e *env) allocSignal(args []string) int {
	fs := e.flags()
	e.jsonFlag(fs)
	sig := fs.String("s", "", "the signal to send, e.g. SIGHUP or HUP (default SIGINT, as Nomad's exec drivers)")
	task := fs.String("task", "", "signal only this task (default: every running task)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the agent to confirm")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 2) {
		return exitUsage
	}
	if *task == "" {
		*task = fs.Arg(1)
	}
	return e.allocAct(fs.Arg(0), "signal", map[string]string{"task": *task, "signal": *sig}, *timeout)
}

// jsonFlag is -json alone (these verbs print the API's answer with it).
func (e *env) jsonFlag(fs *flag.FlagSet) {
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is, without waiting for the agent")
}

// allocAct posts a restart or signal and waits for the agent's task event
// that names the request.
func (e *env) allocAct(id, kind string, body map[string]string, timeout time.Duration) int {
	for k, v := range body {
		if v == "" {
			delete(body, k)
		}
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/client/allocation/"+url.PathEscape(id)+"/"+kind, nil, body)
	if err != nil {
		return e.fail(kind+"ing allocation", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var resp actionResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail(kind+"ing allocation", fmt.Errorf("decoding response: %w", err))
	}
	what := "Restart"
	if kind == "signal" {
		what = "Signal " + resp.Signal
	}
	fmt.Fprintf(e.stdout, "%s of allocation %q requested (request %d); waiting for node %s to confirm\n", what, e.short(resp.AllocID), resp.Seq, e.short(resp.NodeID))
	evs, err := e.waitAction(resp, kind, timeout)
	if err != nil {
		fmt.Fprintf(e.stderr, "Error: node %s has not confirmed request %d within %s (%v): it is recorded and the agent applies it once, when it receives its desired state; do not repeat it, see `central alloc status %s`\n",
			e.short(resp.NodeID), resp.Seq, timeout, err, e.short(resp.AllocID))
		return exitError
	}
	failed := false
	for _, ev := range evs {
		fmt.Fprintf(e.stdout, "Task %q: %s\n", ev.task, ev.msg)
		if kind == "signal" && !strings.HasPrefix(ev.msg, "Signal "+resp.Signal+" sent") {
			failed = true
		}
	}
	if failed {
		return exitError
	}
	return exitOK
}

type taskConfirm struct{ task, msg string }

// waitAction polls the allocation (blocking reads) until a task event
// names the request, then returns every such event.
func (e *env) waitAction(resp actionResponse, kind string, timeout time.Duration) ([]taskConfirm, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	typ := "Restart Signaled"
	if kind == "signal" {
		typ = "Signaling"
	}
	marker := fmt.Sprintf("request %d)", resp.Seq)
	var index uint64
	for {
		q := url.Values{"wait": {"5s"}}
		if index > 0 {
			q.Set("index", strconv.FormatUint(index, 10))
		}
		var a structs.Allocation
		_, idx, err := e.get(ctx, "/v1/allocation/"+url.PathEscape(resp.AllocID), q, &a)
		if err != nil {
			return nil, err
		}
		var out []taskConfirm
		for _, name := range sortedKeys(a.TaskStates) {
			ts := a.TaskStates[name]
			if ts == nil {
				continue
			}
			for _, ev := range ts.Events {
				if ev.Type == typ && strings.Contains(ev.Message, marker) {
					out = append(out, taskConfirm{name, ev.Message})
				}
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if a.Terminal() {
			return nil, fmt.Errorf("the allocation is %s", a.ClientStatus)
		}
		index = idx
	}
}

func (e *env) allocStop(args []string) int {
	fs := e.flags()
	e.jsonFlag(fs)
	detach := fs.Bool("detach", false, "print the evaluation ID and return, without monitoring")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to monitor before giving up")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPost, "/v1/allocation/"+url.PathEscape(fs.Arg(0))+"/stop", nil, nil)
	if err != nil {
		return e.fail("stopping allocation", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var resp struct {
		EvalID string `json:"eval_id"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("stopping allocation", fmt.Errorf("decoding response: %w", err))
	}
	if *detach {
		fmt.Fprintln(e.stdout, resp.EvalID)
		return exitOK
	}
	return e.monitor(resp.EvalID, *timeout, false)
}
