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
	"strconv"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// nodeUpdateResponse mirrors api.NodeUpdateResponse.
type nodeUpdateResponse struct {
	EvalIDs         []string `json:"eval_ids"`
	NodeModifyIndex uint64   `json:"node_modify_index"`
}

// nodeDrain: central node drain -enable|-disable [-deadline D] [-detach] [-yes] NODE
func (e *env) nodeDrain(args []string) int {
	fs := e.flags()
	enable := fs.Bool("enable", false, "start draining the node: its allocations move elsewhere and it takes no new work")
	disable := fs.Bool("disable", false, "stop draining the node and make it eligible again")
	deadline := fs.Duration("deadline", time.Hour, "how long to wait for the node's allocations to stop (allocations migrate at once; the wait ends at the deadline)")
	detach := fs.Bool("detach", false, "return once the drain is set, without waiting for allocations to stop")
	keep := fs.Bool("keep-ineligible", false, "with -disable: leave the node ineligible for new work")
	fs.Bool("yes", false, "do not ask for confirmation (central never asks; accepted for Nomad's scripts)")
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	if *enable == *disable {
		fmt.Fprintln(e.stderr, "Error: give exactly one of -enable or -disable.")
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	node, err := e.lookupNode(ctx, fs.Arg(0))
	if err != nil {
		return e.fail("querying node", err)
	}
	body := map[string]any{"enable": *enable, "keep_ineligible": *keep}
	if *enable {
		body["deadline"] = deadline.String()
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/node/"+url.PathEscape(node.ID)+"/drain", nil, body)
	if err != nil {
		return e.fail("updating drain", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var res nodeUpdateResponse
	_ = json.Unmarshal(b, &res)
	if !*enable {
		fmt.Fprintf(e.stdout, "Node %q drain strategy unset\n", node.ID)
		return exitOK
	}
	fmt.Fprintf(e.stdout, "Node %q drain strategy set (%d evaluation(s) created)\n", node.ID, len(res.EvalIDs))
	if *detach {
		return exitOK
	}
	return e.waitDrained(node.ID, *deadline)
}

// waitDrained waits until no allocation on the node is pending or running.
func (e *env) waitDrained(nodeID string, deadline time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var index uint64
	reported := map[string]bool{}
	for {
		var allocs []*structs.Allocation
		_, idx, err := e.get(ctx, "/v1/node/"+url.PathEscape(nodeID)+"/allocations", blockingQuery(nil, index, 30*time.Second), &allocs)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(e.stderr, "%s: drain deadline of %s reached with allocations still running on node %q\n", e.stamp(), deadline, nodeID)
				return exitError
			}
			return e.fail("watching the node's allocations", err)
		}
		index = idx
		left := 0
		for _, a := range allocs {
			active := a.ClientStatus == protocol.AllocPending || a.ClientStatus == protocol.AllocRunning
			if active {
				left++
			}
			if !active && a.DesiredStatus == protocol.DesiredStop && !reported[a.ID] {
				reported[a.ID] = true
				fmt.Fprintf(e.stdout, "%s: Alloc %q %s\n", e.stamp(), e.short(a.ID), a.ClientStatus)
			}
		}
		if left == 0 {
			fmt.Fprintf(e.stdout, "%s: All allocations on node %q have stopped\n", e.stamp(), nodeID)
			return exitOK
		}
	}
}

// nodeEligibility: central node eligibility -enable|-disable NODE
func (e *env) nodeEligibility(args []string) int {
	fs := e.flags()
	enable := fs.Bool("enable", false, "make the node eligible for new work")
	disable := fs.Bool("disable", false, "make the node ineligible: it keeps what it runs and takes nothing new")
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	if *enable == *disable {
		fmt.Fprintln(e.stderr, "Error: give exactly one of -enable or -disable.")
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	node, err := e.lookupNode(ctx, fs.Arg(0))
	if err != nil {
		return e.fail("querying node", err)
	}
	elig := "ineligible"
	if *enable {
		elig = "eligible"
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/node/"+url.PathEscape(node.ID)+"/eligibility", nil, map[string]string{"eligibility": elig})
	if err != nil {
		return e.fail("updating eligibility", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	fmt.Fprintf(e.stdout, "Node %q scheduling eligibility set: %s for scheduling\n", node.ID, elig)
	return exitOK
}

func (e *env) lookupNode(ctx context.Context, id string) (*structs.Node, error) {
	var n structs.Node
	if _, _, err := e.get(ctx, "/v1/node/"+url.PathEscape(id), nil, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// allocLogs: central alloc logs [-f] [-stderr] [-tail] [-n N] ALLOC [TASK]
func (e *env) allocLogs(args []string) int {
	fs := e.flags()
	follow := fs.Bool("f", false, "follow the log: keep printing what the task writes until interrupted")
	stderr := fs.Bool("stderr", false, "show stderr instead of stdout")
	tail := fs.Bool("tail", false, "show the end of the log (the last 10 lines unless -n)")
	lines := fs.Int("n", 0, "with -tail: how many lines from the end")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 2) {
		return exitUsage
	}
	if *lines < 0 || *lines > protocol.MaxLogLines {
		fmt.Fprintf(e.stderr, "Error: -n %d: want 0 to %d.\n", *lines, protocol.MaxLogLines)
		return exitUsage
	}
	q := url.Values{}
	if fs.NArg() == 2 {
		q.Set("task", fs.Arg(1))
	}
	if *stderr {
		q.Set("type", "stderr")
	}
	if *follow {
		q.Set("follow", "true")
	}
	if *tail || *lines > 0 {
		q.Set("tail", "true")
		if *lines > 0 {
			q.Set("lines", strconv.Itoa(*lines))
		}
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if *follow {
		ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt)
	} else {
		ctx, cancel = e.ctx()
	}
	defer cancel()
	if err := e.stream(ctx, "/v1/client/fs/logs/"+url.PathEscape(fs.Arg(0)), q, e.stdout); err != nil {
		if errors.Is(err, context.Canceled) && *follow {
			return exitOK
		}
		return e.fail("reading logs", err)
	}
	return exitOK
}

// stream copies a GET's body to w as it arrives.
func (e *env) stream(ctx context.Context, path string, q url.Values, w io.Writer) error {
	u := e.address + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if e.token != "" {
		req.Header.Set(TokenHeader, e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = string(b)
		}
		return &apiError{code: resp.StatusCode, msg: eb.Error}
	}
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
