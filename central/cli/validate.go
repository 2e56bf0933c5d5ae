package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tether-edge/tether/jobspec"
)

func jobFileVerbs() map[string]verb {
	return map[string]verb{
		"job validate": {"Check a job file (parse and validate here; central's checks too when -address or CENTRAL_ADDR is set)", "[options] FILE", (*env).jobValidate},
		"job inspect":  {"Print a registered job as JSON that job run takes back", "[options] JOB", (*env).jobInspect},
	}
}

// validateResponse mirrors api.ValidateResponse.
type validateResponse struct {
	Valid    bool   `json:"valid"`
	Error    string `json:"error"`
	Warnings string `json:"warnings"`
}

// jobValidate checks a job file as `nomad job validate` does: exit 0 and
// "Job validation successful", or exit 1 and the errors at file:line. The
// file is parsed and validated here, without a cluster. When an address is
// given (-address or CENTRAL_ADDR), central checks it too (POST
// /v1/validate/job: region, what a node can receive, a change of kind);
// if central cannot be reached, the local verdict stands, with a note, as
// Nomad falls back to its local checks.
func (e *env) jobValidate(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	jf := e.jobFileFlags(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	file, code := e.loadJobFile(fs.Arg(0), jf)
	if file == nil {
		return code
	}
	warnings := strings.Join(file.warnings, "\n")
	if e.addressGiven(fs) {
		ctx, cancel := e.ctx()
		defer cancel()
		b, _, err := e.call(ctx, http.MethodPost, "/v1/validate/job", e.nsQuery(), file.body)
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			return e.fail("validating job", err)
		case err != nil:
			fmt.Fprintf(e.stderr, "Note: central at %s could not be reached (%v): the job file's own checks passed; central's (region, what a node can receive) did not run\n", e.address, err)
		default:
			var resp validateResponse
			if err := json.Unmarshal(b, &resp); err != nil {
				return e.fail("validating job", fmt.Errorf("decoding response: %w", err))
			}
			if resp.Warnings != "" {
				warnings = resp.Warnings
			}
			if !resp.Valid {
				if warnings != "" {
					fmt.Fprintf(e.stdout, "Job Warnings:\n%s\n\n", warnings)
				}
				return e.jobFileErrors(errors.New(resp.Error))
			}
		}
	}
	if warnings != "" {
		fmt.Fprintf(e.stdout, "Job Warnings:\n%s\n\n", warnings)
	}
	fmt.Fprintln(e.stdout, "Job validation successful")
	return exitOK
}

// addressGiven reports whether -address or CENTRAL_ADDR named a server.
func (e *env) addressGiven(fs *flag.FlagSet) bool {
	given := e.getenv("CENTRAL_ADDR") != ""
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "address" {
			given = true
		}
	})
	return given
}

// inspectOutput is what job inspect prints: the body POST /v1/jobs takes,
// so `central job run` reads it back.
type inspectOutput struct {
	Job *jobspec.Job `json:"job"`
}

// jobInspect prints a registered job (or one of its kept versions) as
// {"job": {...}}, Tether's JSON, which job run and job submit take back
// unchanged. JSON is the only format: the HCL a job came from is not kept.
func (e *env) jobInspect(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	fs.Bool("json", true, "print JSON (the only format; accepted as Nomad's inspect takes it)")
	version := fs.Int64("version", -1, "print this kept version (see central job history JOB)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	job, code := e.resolveJob(ctx, fs.Arg(0))
	if job == nil {
		return code
	}
	if *version >= 0 {
		var resp versionsResponse // history.go
		if _, _, err := e.get(ctx, "/v1/job/"+url.PathEscape(job.ID)+"/versions", e.nsQuery(), &resp); err != nil {
			return e.fail("querying job versions", err)
		}
		job = nil
		for _, v := range resp.Versions {
			if v.Version == uint64(*version) {
				job = v
			}
		}
		if job == nil {
			fmt.Fprintf(e.stderr, "Error: job %q has no kept version %d (see central job history %s)\n", fs.Arg(0), *version, fs.Arg(0))
			return exitError
		}
	}
	b, err := json.MarshalIndent(inspectOutput{Job: job}, "", "  ")
	if err != nil {
		return e.fail("printing job", err)
	}
	return e.printJSON(b)
}
