package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/central/api"
	"github.com/tether-edge/tether/central/jobplan"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
	"github.com/tether-edge/tether/jobspec/corpus"
	"github.com/tether-edge/tether/protocol"
)

// serverWants are refusals that only a cluster gives, by file: what the
// error must contain.
var serverWants = map[string]string{
	// The file names region "eu"; the test cluster is "global".
	"jobspec/testdata/good/system_disconnect.hcl": `region "eu" is not this cluster's region "global"`,
}

// serverPlanWarns are plan warnings of files that cannot carry a
// "# plan-warn:" line (their line numbers are in golden files).
var serverPlanWarns = map[string]string{
	// The edge tutorial's address, which the test nodes do not have.
	"jobspec/testdata/good/nomad_edge.hcl": `refers to node attribute "unique.platform.aws.public-ipv4"`,
}

// TestCorpusValidate sends every job file of the repository (package
// corpus) to a real server's POST /v1/validate/job as the CLI sends it
// (the file, -var and -var-file values, NOMAD_VAR_ values, the files
// file() read): a file with "# want:" lines must be refused with those
// texts, every other file accepted. This is where central's own submit
// checks (driver config, templates, artifacts, what a node can receive)
// meet the files users write.
func TestCorpusValidate(t *testing.T) {
	root, err := corpus.Root()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := corpus.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s := testServer(t, time.Minute)
	base := "http://" + s.HTTPAddr()
	for _, c := range cases {
		if w, ok := serverWants[c.Name]; ok {
			c.Wants = append(c.Wants, w)
		}
		t.Run(c.Name, func(t *testing.T) {
			if err := validateCase(t, base, c); err != nil {
				t.Error(err)
			}
		})
	}
	for _, table := range []map[string]string{serverWants, serverPlanWarns} {
		for name := range table {
			if !slices.ContainsFunc(cases, func(c corpus.Case) bool { return c.Name == name }) {
				t.Errorf("a table of this test names %s, which is not in the corpus", name)
			}
		}
	}
}

// submitRequest builds the body the CLI sends for c: the variables after
// merging -var-file and -var, and the files file() read while the CLI
// parsed the job locally; and the job that local parse gave, if any.
func submitRequest(c corpus.Case) (*api.SubmitRequest, *jobspec.Job, error) {
	opts, files, err := c.Options()
	if err != nil {
		return nil, nil, err
	}
	// Parsed here only to learn what file() reads, as the CLI does; the
	// server gives the verdict.
	job, _, _ := jobspec.ParseWith(c.Src, opts)
	hcl := string(c.Src)
	return &api.SubmitRequest{
		HCL:          &hcl,
		Filename:     opts.Filename,
		Variables:    opts.Vars,
		EnvVariables: opts.EnvVars,
		Files:        files,
	}, job, nil
}

// validateCase posts c to /v1/validate/job and compares the answer with
// the verdict c asks for. A job accepted as HCL must be accepted again as
// the JSON job the API hands out (job inspect -json, then job run).
func validateCase(t *testing.T, base string, c corpus.Case) error {
	req, job, err := submitRequest(c)
	if err != nil {
		// A bad -var or -var-file the CLI refuses before sending.
		return c.Verdict(false, err.Error())
	}
	v, err := postValidate(t, base, req)
	if err != nil {
		return err
	}
	if err := c.Verdict(v.Valid, v.Error); err != nil || !v.Valid {
		return err
	}
	if job == nil {
		return fmt.Errorf("the server accepted the file, the local parse did not")
	}
	v, err = postValidate(t, base, &api.SubmitRequest{Job: job})
	if err != nil {
		return err
	}
	if !v.Valid {
		return fmt.Errorf("accepted as HCL, refused as the JSON job it parses to: %s", v.Error)
	}
	return nil
}

func postValidate(t *testing.T, base string, req *api.SubmitRequest) (*api.ValidateResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/validate/job", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /v1/validate/job: %s: %s", resp.Status, b)
	}
	var v api.ValidateResponse
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("POST /v1/validate/job: %v: %s", err, b)
	}
	return &v, nil
}

// TestCorpusPlan plans every corpus job file on a real server with two
// nodes (dc1 and dc2, all three drivers) through POST /v1/job/<id>/plan:
// a file the server accepts gets a plan (placements or placement
// failures, never an error) and warns of a service address the nodes
// cannot resolve exactly when the file says so ("# plan-warn:"); a file
// refused at validation is refused by plan with the same texts.
func TestCorpusPlan(t *testing.T) {
	root, err := corpus.Root()
	if err != nil {
		t.Fatal(err)
	}
	cases, err := corpus.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	s := testServer(t, time.Minute)
	for i, dc := range []string{"dc1", "dc2"} {
		id := fmt.Sprintf("n%d", i+1)
		a := newWireAgent(t, s, id)
		a.publish(a.topics.Hello(id), 1, &protocol.Hello{
			V: protocol.Version, NodeID: id, Name: "node-" + id, Datacenter: dc,
			Drivers: []string{"exec", "podman", "wasm"},
			Attributes: map[string]string{"cpu.arch": "amd64", "kernel.name": "linux", "os.version": "12",
				"unique.network.ip-address": "127.0.0.1", "unique.hostname": "node-" + id},
			Meta:      map[string]string{"rack": "r" + id, "board": "pi4", "features": "camera,modbus"},
			Resources: protocol.Resources{CPU: 16000, MemoryMB: 16384},
		})
		eventually(t, 10*time.Second, func() error {
			if n := s.store.NodeByID(id); n == nil || n.Status != structs.NodeReady {
				return fmt.Errorf("node %s not ready: %+v", id, n)
			}
			return nil
		})
	}
	base := "http://" + s.HTTPAddr()
	for _, c := range cases {
		if w, ok := serverWants[c.Name]; ok {
			c.Wants = append(c.Wants, w)
		}
		if w, ok := serverPlanWarns[c.Name]; ok {
			c.PlanWarns = append(c.PlanWarns, w)
		}
		t.Run(c.Name, func(t *testing.T) {
			if err := planCase(t, base, c); err != nil {
				t.Error(err)
			}
		})
	}
}

// planCase posts c to /v1/job/<id>/plan and checks the answer.
func planCase(t *testing.T, base string, c corpus.Case) error {
	req, job, err := submitRequest(c)
	if err != nil {
		return c.Verdict(false, err.Error())
	}
	id := "unparsed" // a file that does not parse is refused whatever the path says
	if job != nil {
		id = job.ID
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/v1/job/"+url.PathEscape(id)+"/plan", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = string(b)
		}
		return c.Verdict(false, e.Error)
	default:
		return fmt.Errorf("POST /v1/job/%s/plan: %s: %s", id, resp.Status, b)
	}
	if err := c.Verdict(true, ""); err != nil {
		return err
	}
	var res jobplan.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("plan answer: %v: %s", err, b)
	}
	if res.Annotations == nil {
		return fmt.Errorf("plan without annotations: %s", b)
	}
	for _, w := range c.PlanWarns {
		if !strings.Contains(res.Warnings, w) {
			return fmt.Errorf("plan warnings lack %q; got %q", w, res.Warnings)
		}
	}
	if len(c.PlanWarns) == 0 && strings.Contains(res.Warnings, "refers to node") {
		return fmt.Errorf("plan warns of a service address: %s", res.Warnings)
	}
	return nil
}
