package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/tether-edge/tether/central/acl"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/central/ui"
	"github.com/tether-edge/tether/jobspec"
)

// Sentinel errors; handlers map them to status codes.
var (
	errBadRequest = errors.New("bad request")
	errNotFound   = errors.New("not found")
)

// Table names for Reader.Index and Reader.Wait.
const (
	tableJobs     = "jobs"
	tableNodes    = "nodes"
	tableAllocs   = "allocs"
	tableEvals    = "evals"
	tableServices = "services"
)

// Reader is the read side of central's state store. Values it returns are
// shared and must not be modified. central/state's *Store satisfies it.
type Reader interface {
	JobByID(ns, id string) *jobspec.Job
	// JobVersions returns every stored version of a job, in any order.
	JobVersions(ns, id string) []*jobspec.Job
	// Jobs returns the jobs of namespace ns; ns "" means every namespace.
	Jobs(ns string) []*jobspec.Job
	Nodes() []*structs.Node
	NodeByID(id string) *structs.Node
	AllocByID(id string) *structs.Allocation
	AllocsByIDPrefix(prefix string) []*structs.Allocation
	AllocsByJob(ns, jobID string) []*structs.Allocation
	AllocsByNode(nodeID string) []*structs.Allocation
	Allocs() []*structs.Allocation
	EvalByID(id string) *structs.Evaluation
	EvalsByJob(ns, jobID string) []*structs.Evaluation
	// Evals returns every evaluation, sorted by ID.
	Evals() []*structs.Evaluation
	// Services returns every service instance of namespace ns ("" = all),
	// sorted by service name.
	Services(ns string) []*structs.ServiceRegistration
	// ServiceByName returns the instances of one service in namespace ns
	// ("" = every namespace).
	ServiceByName(ns, name string) []*structs.ServiceRegistration
	// Index returns the last Raft index that changed table: "jobs",
	// "nodes", "allocs", "evals" or "services".
	Index(table string) uint64
	// Wait blocks until table's index is above minIndex or ctx is done, and
	// returns the table's index.
	Wait(ctx context.Context, table string, minIndex uint64) uint64
}

// Backend is what the API needs from the server: its state and its writes.
// Writes go through Raft; on a follower the Backend forwards them to the
// leader, and returns an error that names the problem when there is none.
type Backend interface {
	State() Reader
	SubmitJob(ctx context.Context, job *jobspec.Job) (evalID string, jobModifyIndex uint64, err error)
	StopJob(ctx context.Context, ns, id string, purge bool) (evalID string, jobModifyIndex uint64, err error)
	// RevertJob registers a copy of kept version `version` of a job as its
	// newest version, refused (ErrConflict) when enforcePrior is set and
	// the job's current version is another.
	RevertJob(ctx context.Context, ns, id string, version uint64, enforcePrior *uint64) (evalID string, jobModifyIndex uint64, err error)
	// DeleteService removes one service instance.
	DeleteService(ctx context.Context, ns, name, id string) error
	// Leader returns the leader's HTTP address, "" if there is none.
	Leader() string
	Members() []Member
	// Self describes this server: name, version, counters, config.
	Self() map[string]any
	OpsBackend // drain, metrics, logs (ops.go)
	ACLBackend // policies, tokens, bootstrap (acl.go)
}

// Member is one server of the cluster.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Status  string `json:"status"` // alive | failed | left
	Leader  bool   `json:"leader"`
}

type server struct {
	b        Backend
	log      *slog.Logger
	resolver *acl.Resolver
	parsing  chan struct{} // one token per job submission being read and parsed (submit.go)
}

// New returns the HTTP handler for the /v1/ API.
func New(b Backend, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{b: b, log: logger, resolver: acl.NewResolver(), parsing: newParseSlots()}
	mux := http.NewServeMux()
	route := func(pattern string, methods map[string]handlerFunc) {
		mux.Handle(pattern, s.methods(methods))
	}
	get := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: h} }
	// Every handler is guarded (acl.go). Where the namespace is known only
	// after a lookup (an allocation's, an evaluation's, a submitted job's)
	// the handler checks it itself with allowNS, and lists filter with canNS.
	readJob, listJobs := nsCap(acl.CapReadJob), nsCap(acl.CapListJobs)

	route("/v1/jobs", map[string]handlerFunc{
		http.MethodGet: s.guard(listJobs, s.listJobs),
		// submit-job checked before the body is read, and again in the parsed job's namespace
		http.MethodPost: s.guard(canSubmit, s.submitJob), http.MethodPut: s.guard(canSubmit, s.submitJob),
	})
	route("/v1/job/{id}", map[string]handlerFunc{
		http.MethodGet:    s.guard(readJob, s.getJob),
		http.MethodDelete: s.guard(nsCap(acl.CapSubmitJob), s.stopJob),
	})
	route("/v1/job/{id}/periodic/force", map[string]handlerFunc{ // periodic.go
		http.MethodPost: s.guard(nsCap(acl.CapSubmitJob), s.forcePeriodic), http.MethodPut: s.guard(nsCap(acl.CapSubmitJob), s.forcePeriodic),
	})
	route("/v1/job/{id}/allocations", get(s.guard(readJob, s.jobAllocs)))
	route("/v1/job/{id}/evaluations", get(s.guard(readJob, s.jobEvals)))
	route("/v1/job/{id}/versions", get(s.guard(readJob, s.jobVersions)))
	route("/v1/job/{id}/revert", map[string]handlerFunc{ // revert.go
		http.MethodPost: s.guard(nsCap(acl.CapSubmitJob), s.revertJob), http.MethodPut: s.guard(nsCap(acl.CapSubmitJob), s.revertJob),
	})
	route("/v1/job/{id}/summary", get(s.guard(readJob, s.jobSummary)))
	route("/v1/job/{id}/plan", map[string]handlerFunc{ // plan.go: submit-job checked before the body is read, and again in the parsed job's namespace
		http.MethodPost: s.guard(canSubmit, s.planJob), http.MethodPut: s.guard(canSubmit, s.planJob),
	})
	route("/v1/validate/job", map[string]handlerFunc{ // validate.go: read-job checked before the body is read, and again in the parsed job's namespace
		http.MethodPost: s.guard(canValidate, s.validateJob), http.MethodPut: s.guard(canValidate, s.validateJob),
	})
	route("/v1/job/{id}/dispatch", map[string]handlerFunc{ // dispatch.go
		http.MethodPost: s.guard(nsCap(acl.CapDispatchJob), s.dispatchJob), http.MethodPut: s.guard(nsCap(acl.CapDispatchJob), s.dispatchJob),
	})
	route("/v1/nodes", get(s.guard(nodeCap(acl.Read), s.listNodes)))
	route("/v1/node/{id}", get(s.guard(nodeCap(acl.Read), s.getNode)))
	route("/v1/node/{id}/allocations", get(s.guard(nodeCap(acl.Read), s.nodeAllocs)))
	s.opsRoutes(route)                                           // drain, eligibility, metrics, logs (ops_routes.go)
	s.statsRoutes(route)                                         // node history, client and allocation stats (stats.go)
	route("/v1/allocations", get(s.guard(open, s.listAllocs)))   // filtered by read-job
	route("/v1/allocation/{id}", get(s.guard(open, s.getAlloc))) // read-job in its namespace
	route("/v1/evaluation/{id}", get(s.guard(open, s.getEval)))  // read-job in its namespace
	route("/v1/evaluations", get(s.guard(open, s.listEvals)))    // filtered by read-job (evals.go)
	route("/v1/evaluation/{id}/allocations", get(s.guard(open, s.evalAllocs)))
	route("/v1/services", get(s.guard(readJob, s.listServices)))
	route("/v1/service/{name}", get(s.guard(readJob, s.getService)))
	route("/v1/service/{name}/{id}", map[string]handlerFunc{http.MethodDelete: s.guard(nsCap(acl.CapSubmitJob), s.deleteService)})
	route("/v1/status/leader", get(s.guard(open, s.leader)))
	route("/v1/agent/members", get(s.guard(agentCap(acl.Read), s.members)))
	route("/v1/agent/self", get(s.guard(agentCap(acl.Read), s.self)))
	s.aclRoutes(route)                               // acl_routes.go
	s.deploymentRoutes(route)                        // deployments.go
	s.execRoutes(route)                              // alloc exec websocket (exec.go)
	mux.Handle("/ui/", ui.New(uiBackend{b}, logger)) // web UI (central/ui): each page checks its own ACL (ui.go)
	// / is the UI, as on Nomad; every other unknown path is an API 404.
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusTemporaryRedirect))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return s.recoverer(s.authn(mux))
}
