package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
)

func systemVerbs() map[string]verb {
	return map[string]verb{
		"system gc": {"Garbage collect the state now, ignoring the thresholds (finished jobs, evaluations, allocations, down nodes, expired join and ACL tokens)", "[options]", (*env).systemGC},
	}
}

// gcDeleted is the "deleted" object of PUT /v1/system/gc.
type gcDeleted struct {
	Jobs        int `json:"jobs"`
	JobVersions int `json:"job_versions"`
	Evals       int `json:"evals"`
	Allocs      int `json:"allocs"`
	Nodes       int `json:"nodes"`
	JoinTokens  int `json:"join_tokens"`
	ACLTokens   int `json:"acl_tokens"`
}

// systemGC runs one garbage collection on the leader, as `nomad system gc`
// does, and says what it deleted.
func (e *env) systemGC(args []string) int {
	fs := e.flags()
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	b, _, err := e.call(ctx, http.MethodPut, "/v1/system/gc", nil, nil)
	if err != nil {
		return e.fail("garbage collection", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	var resp struct {
		Deleted gcDeleted `json:"deleted"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return e.fail("garbage collection", fmt.Errorf("decoding response: %w", err))
	}
	d := resp.Deleted
	fmt.Fprintf(e.stdout, "Garbage collected: %d jobs, %d job versions, %d evaluations, %d allocations, %d nodes, %d join tokens, %d ACL tokens\n",
		d.Jobs, d.JobVersions, d.Evals, d.Allocs, d.Nodes, d.JoinTokens, d.ACLTokens)
	return exitOK
}
