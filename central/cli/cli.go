package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/tether-edge/tether/jobspec"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the API was unreachable, answered 4xx/5xx, or timed out
	// exitUsage: bad flags, missing or extra arguments, an unknown command.
	exitUsage = 2
	// exitPlacement: job submit/run (without -detach) could not place every
	// allocation. It shares 2 with exitUsage, as in `nomad job run`.
	exitPlacement = 2
)

// DefaultAddress is the API address used when neither -address nor
// CENTRAL_ADDR is set.
const DefaultAddress = "http://127.0.0.1:7600"

// TokenHeader carries the ACL token.
const TokenHeader = "X-Tether-Token"

// verb is one CLI command such as "job status".
type verb struct {
	synopsis string
	args     string // positional arguments, for usage
	run      func(e *env, args []string) int
}

func verbs() map[string]verb {
	vs := verbsBase()
	for k, v := range aclVerbs() { // acl.go
		vs[k] = v
	}
	for k, v := range lifecycleVerbs() { // lifecycle.go: alloc restart, signal, stop
		vs[k] = v
	}
	for k, v := range execVerbs() { // exec.go: alloc exec
		vs[k] = v
	}
	for k, v := range completionVerbs() { // completion.go
		vs[k] = v
	}
	for k, v := range securityVerbs() { // security.go
		vs[k] = v
	}
	for k, v := range tlsVerbs() { // tls.go
		vs[k] = v
	}
	for k, v := range systemVerbs() { // system.go
		vs[k] = v
	}
	for k, v := range dispatchVerbs() { // dispatch.go
		vs[k] = v
	}
	for k, v := range periodicVerbs() { // periodic.go
		vs[k] = v
	}
	for k, v := range historyVerbs() { // history.go
		vs[k] = v
	}
	for k, v := range deploymentVerbs() { // deployment.go
		vs[k] = v
	}
	for k, v := range planVerbs() { // plan.go: job plan
		vs[k] = v
	}
	for k, v := range jobFileVerbs() { // validate.go: job validate, job inspect
		vs[k] = v
	}
	for k, v := range agentOTAVerbs() { // agentota.go: agent release, agent rollout
		vs[k] = v
	}
	return vs
}

func verbsBase() map[string]verb {
	return map[string]verb{
		"job submit":                {"Submit a job file and monitor its evaluation", "[options] FILE", (*env).jobSubmit},
		"job run":                   {"Alias of job submit", "[options] FILE", (*env).jobSubmit},
		"job status":                {"Show all jobs, or one job in detail", "[options] [JOB]", (*env).jobStatus},
		"job stop":                  {"Stop a job and monitor its allocations stopping", "[options] JOB", (*env).jobStop},
		"node status":               {"Show all nodes, or one node in detail", "[options] [NODE]", (*env).nodeStatus},
		"node drain":                {"Drain a node: move its allocations elsewhere and take no new work", "-enable|-disable [options] NODE", (*env).nodeDrain},
		"node eligibility":          {"Mark a node eligible or ineligible for new work", "-enable|-disable [options] NODE", (*env).nodeEligibility},
		"alloc status":              {"Show an allocation and its tasks", "[options] ALLOC", (*env).allocStatus},
		"alloc logs":                {"Show a task's stdout or stderr, streamed from its agent", "[-f] [-stderr] [-tail] [-n N] ALLOC [TASK]", (*env).allocLogs},
		"eval status":               {"Show an evaluation", "[options] EVAL", (*env).evalStatus},
		"service list":              {"List registered services and their tags", "[options]", (*env).serviceList},
		"service info":              {"Show a service's instances (healthy ones unless -all)", "[options] NAME", (*env).serviceInfo},
		"service delete":            {"Delete one service instance", "[options] NAME ID", (*env).serviceDelete},
		"server members":            {"List the servers of the cluster", "[options]", (*env).serverMembers},
		"operator raft":             {"Raft operations: list-peers, remove-peer", "list-peers|remove-peer [options]", (*env).operatorRaft},
		"operator raft remove-peer": {"Remove a server from the Raft peers", "[options] -peer-id ID | -peer-address ADDR", (*env).raftRemovePeer},
		"operator snapshot save":    {"Save a snapshot of the cluster's state to a file", "[options] FILE", (*env).snapshotSave},
		"operator snapshot restore": {"Restore the cluster's state from a snapshot file", "[options] FILE", (*env).snapshotRestore},
		"status":                    {"Alias of job status", "[options] [JOB]", (*env).jobStatus},
		"operator raft list-peers":  {"List the Raft peers", "[options]", (*env).raftListPeers},
		"board list":                {"List the board profiles (boards/)", "[options]", (*env).boardList},
		"board bundle":              {"Write an agent tree for a board into a dir or an SD card's root", "-board B -name N -broker URL (-out DIR | -root DIR) [options]", (*env).boardBundle},
	}
}

// Run runs the verb in args (args[0] is the verb, e.g. "job") and returns
// the process exit code. getenv supplies CENTRAL_ADDR and CENTRAL_TOKEN;
// job file variables come from the process's NOMAD_VAR_name variables.
func Run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return run(args, stdout, stderr, getenv, os.Environ)
}

// run is Run with the environment's NOMAD_VAR_ variables listed by environ.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string, environ func() []string) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, environ: environ, now: time.Now, http: &http.Client{}}
	vs := verbs()
	// Longest match: "operator raft list-peers", then "job status", then "status".
	for n := 3; n >= 1; n-- {
		if len(args) < n {
			continue
		}
		name := strings.Join(args[:n], " ")
		if v, ok := vs[name]; ok {
			e.verb, e.verbArgs = name, v.args
			return v.run(e, args[n:])
		}
	}
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprint(stderr, usage(vs))
		return exitOK
	}
	if len(args) > 0 {
		if group := groupUsage(vs, args[0]); group != "" {
			// The deepest group named: "node join-token" in "node join-token bogus".
			n := 1
			for n < len(args) && !strings.HasPrefix(args[n], "-") && groupUsage(vs, strings.Join(args[:n+1], " ")) != "" {
				n++
			}
			group = groupUsage(vs, strings.Join(args[:n], " "))
			// "job" alone or "job bogus": a usage error; "job -h": help.
			if len(args) > n && isHelp(args[n]) {
				fmt.Fprint(stderr, group)
				return exitOK
			}
			if len(args) > n && !strings.HasPrefix(args[n], "-") {
				fmt.Fprintf(stderr, "Unknown command %q.%s\n\n", strings.Join(args, " "), didYouMeanVerb(vs, args))
			}
			fmt.Fprint(stderr, group)
			return exitUsage
		}
		fmt.Fprintf(stderr, "Unknown command %q.%s\n\n", strings.Join(args, " "), didYouMeanVerb(vs, args))
	}
	fmt.Fprint(stderr, usage(vs))
	return exitUsage
}

// serverCommands are handled by the binary before Run (cmd/central).
var serverCommands = []string{"dev", "server", "version"}

// didYouMeanVerb names the command nearest to a misspelt one: the first
// word of args that is not a known command (or group) is compared with
// the words that may stand there (` Did you mean "job status"?`), with
// jobspec's suggestion rule; "" when none is close.
func didYouMeanVerb(vs map[string]verb, args []string) string {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	for i := range words {
		prefix := strings.Join(words[:i], " ")
		known := map[string]bool{}
		if i == 0 {
			for _, c := range serverCommands {
				known[c] = true
			}
		}
		for name := range vs {
			rest, ok := strings.CutPrefix(name, prefix+" ")
			if i == 0 {
				rest, ok = name, true
			}
			if ok {
				known[strings.Fields(rest)[0]] = true
			}
		}
		if known[words[i]] {
			continue
		}
		cands := make([]string, 0, len(known))
		for k := range known {
			cands = append(cands, k)
		}
		sort.Strings(cands) // ties go to the first in order, whatever the map's
		s := jobspec.Suggest(words[i], cands)
		if s == "" {
			return ""
		}
		fixed := strings.TrimSpace(prefix + " " + s)
		// "jbo status": "job status" when that is a command.
		if full := strings.Join(append([]string{fixed}, words[i+1:]...), " "); i+1 < len(words) {
			if _, ok := vs[full]; ok {
				fixed = full
			}
		}
		return fmt.Sprintf(" Did you mean %q?", fixed)
	}
	return ""
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func usage(vs map[string]verb) string {
	var b strings.Builder
	b.WriteString("Usage: central <command> [options] [args]\n\nServer commands (handled by the binary): dev, server, version\n\nCommands:\n")
	names := make([]string, 0, len(vs))
	for n := range vs {
		if n != "operator raft" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "    %-26s %s\n", n, vs[n].synopsis)
	}
	b.WriteString("\nEvery command takes -address (or CENTRAL_ADDR) and -token (or CENTRAL_TOKEN), and for TLS -ca-cert, -client-cert, -client-key (or CENTRAL_CACERT, CENTRAL_CLIENT_CERT, CENTRAL_CLIENT_KEY); -h shows its options.\n")
	return b.String()
}

// groupUsage lists the subcommands of a group such as "job", or "".
func groupUsage(vs map[string]verb, group string) string {
	var names []string
	for n := range vs {
		if strings.HasPrefix(n, group+" ") && n != "operator raft" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: central %s <subcommand> [options] [args]\n\nSubcommands:\n", group)
	for _, n := range names {
		fmt.Fprintf(&b, "    %-26s %s\n", strings.TrimPrefix(n, group+" "), vs[n].synopsis)
	}
	return b.String()
}

// env is one invocation of the CLI: its streams, its flags and its client.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string // KEY=value pairs: NOMAD_VAR_ job file variables (jobfile.go)
	now            func() time.Time
	http           *http.Client

	verb, verbArgs string

	// Common flags.
	address   string
	token     string
	namespace string
	json      bool
	verbose   bool
}

// flags returns a flag set with the common flags every verb takes.
func (e *env) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("central "+e.verb, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&e.address, "address", "", "HTTP API address of a central server (default $CENTRAL_ADDR or "+DefaultAddress+")")
	fs.StringVar(&e.token, "token", "", "ACL token sent as "+TokenHeader+" (default $CENTRAL_TOKEN)")
	e.tlsFlags(fs) // tls_client.go: -ca-cert, -client-cert, -client-key
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: central %s %s\n\n%s\n\nOptions:\n", e.verb, e.verbArgs, verbs()[e.verb].synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func (e *env) readFlags(fs *flag.FlagSet) {
	fs.BoolVar(&e.json, "json", false, "print the API's JSON response as is")
	fs.BoolVar(&e.verbose, "verbose", false, "show full IDs")
}

func (e *env) nsFlag(fs *flag.FlagSet) {
	fs.StringVar(&e.namespace, "namespace", "default", "namespace of the job")
}

// parse parses args; ok is false when the caller should return code (after
// -h, or a flag error).
func (e *env) parse(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if e.address == "" {
		e.address = e.getenv("CENTRAL_ADDR")
	}
	if e.address == "" {
		e.address = DefaultAddress
	}
	if !strings.Contains(e.address, "://") {
		e.address = "http://" + e.address
	}
	e.address = strings.TrimRight(e.address, "/")
	if e.token == "" {
		e.token = e.getenv("CENTRAL_TOKEN")
	}
	return 0, true
}

// nargs checks the number of positional arguments.
func (e *env) nargs(fs *flag.FlagSet, min, max int) bool {
	n := fs.NArg()
	if n >= min && n <= max {
		return true
	}
	fmt.Fprintf(e.stderr, "Error: central %s takes %s, got %d argument(s).\n\n", e.verb, e.verbArgs, n)
	fs.Usage()
	return false
}

func (e *env) fail(what string, err error) int {
	fmt.Fprintf(e.stderr, "Error %s: %v\n", what, err)
	return exitError
}

// usageFail reports a bad flag value or a missing required flag: the
// command line, not the cluster, is wrong.
func (e *env) usageFail(what string, err error) int {
	fmt.Fprintf(e.stderr, "Error %s: %v\n", what, err)
	return exitUsage
}

func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}
