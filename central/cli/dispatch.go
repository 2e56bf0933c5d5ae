package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

func dispatchVerbs() map[string]verb {
	return map[string]verb{
		"job dispatch": {"Dispatch an instance of a parameterized job, with meta and a payload", "[-meta KEY=VALUE]... [options] JOB [PAYLOAD-FILE|-]", (*env).jobDispatch},
	}
}

// dispatchResponse mirrors api.DispatchResponse.
type dispatchResponse struct {
	DispatchedJobID string `json:"dispatched_job_id"`
	EvalID          string `json:"eval_id"`
}

// jobDispatch is `nomad job dispatch`: it reads the payload from a file
// (or stdin with -), sends it with the -meta pairs (and an idempotency
// token) and prints the dispatched job's ID and its evaluation, which it
// then monitors unless -detach.
func (e *env) jobDispatch(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	detach := fs.Bool("detach", false, "return after dispatching, without monitoring the evaluation")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to monitor before giving up")
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is, without monitoring")
	token := fs.String("idempotency-token", "", "a token that makes a retried dispatch return the child the first one made")
	var metas stringList
	fs.Var(&metas, "meta", "a meta key and value for the dispatched job, KEY=VALUE (repeatable)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 2) {
		return exitUsage
	}
	meta := map[string]string{}
	for _, m := range metas {
		k, v, ok := strings.Cut(m, "=")
		if !ok || k == "" {
			return e.usageFail("in -meta", fmt.Errorf("%q is not KEY=VALUE", m))
		}
		meta[k] = v
	}
	var payload []byte
	if fs.NArg() == 2 {
		var err error
		if payload, err = readPayload(fs.Arg(1)); err != nil {
			return e.fail("reading payload", err)
		}
	}
	ctx, cancel := e.ctx()
	defer cancel()
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	body := map[string]any{"Payload": payload, "Meta": meta}
	if *token != "" {
		body["IdempotencyToken"] = *token
	}
	b, _, err := e.call(ctx, http.MethodPost, "/v1/job/"+url.PathEscape(job.ID)+"/dispatch", e.nsQuery(), body)
	if err != nil {
		return e.fail("dispatching job", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var resp dispatchResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("dispatching job", fmt.Errorf("decoding response: %w", err))
	}
	if resp.EvalID == "" { // the idempotency token's earlier dispatch
		fmt.Fprintf(e.stdout, "Job %q was already dispatched with this idempotency token\n", resp.DispatchedJobID)
		kv(e.stdout, [][2]string{{"Dispatched Job ID", resp.DispatchedJobID}})
		return exitOK
	}
	kv(e.stdout, [][2]string{{"Dispatched Job ID", resp.DispatchedJobID}, {"Evaluation ID", resp.EvalID}})
	if *detach {
		return exitOK
	}
	fmt.Fprintln(e.stdout)
	return e.monitor(resp.EvalID, *timeout, false)
}

// readPayload reads a dispatch payload from path, or stdin for "-",
// refusing one over the 16 KiB limit without reading further.
func readPayload(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	b, err := io.ReadAll(io.LimitReader(r, jobspec.DispatchPayloadSizeLimit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > jobspec.DispatchPayloadSizeLimit {
		return nil, fmt.Errorf("%s is larger than the payload limit of %d bytes (16 KiB): send a smaller payload, or put the data where the task can fetch it and pass its location with -meta", name, jobspec.DispatchPayloadSizeLimit)
	}
	return b, nil
}
