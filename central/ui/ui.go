package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// ErrNotFound is returned by page builders for a missing object.
var ErrNotFound = errors.New("not found")

// ErrBadRequest is returned by page builders for a bad query parameter.
var ErrBadRequest = errors.New("bad request")

func badParam(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Reader is central's state as one request's token may see it
// (Backend.Authorize returns it): lists hold only what the token may read,
// and a lookup of anything else finds nothing, exactly as if it did not
// exist. Pages read state only through it.
type Reader interface {
	Nodes() []*structs.Node
	NodeByID(id string) *structs.Node
	Jobs(ns string) []*jobspec.Job
	JobByID(ns, id string) *jobspec.Job
	// JobVersions returns a job's kept versions, in any order.
	JobVersions(ns, id string) []*jobspec.Job
	// DeploymentsByJob returns a job's deployments, in any order.
	DeploymentsByJob(ns, jobID string) []*structs.Deployment
	AllocsByJob(ns, jobID string) []*structs.Allocation
	// EvalsByJob returns a job's evaluations, in any order.
	EvalsByJob(ns, jobID string) []*structs.Evaluation
	AllocsByNode(nodeID string) []*structs.Allocation
	AllocByID(id string) *structs.Allocation
	AllocsByIDPrefix(prefix string) []*structs.Allocation
	Services(ns string) []*structs.ServiceRegistration
	Index(table string) uint64
	Wait(ctx context.Context, table string, minIndex uint64) uint64
	// May reports whether the request's token passes the API's check for
	// permission (a May* name) in namespace ns ("" for node write): the
	// pages show an action's button only then. The API checks again
	// when the button calls it.
	May(permission, ns string) bool
	// AgentRollouts returns the agent rollouts central keeps, in any
	// order (none to a token without operator read).
	AgentRollouts() []*structs.AgentRollout
}

// Member is one server of the cluster.
type Member struct {
	Name, Address, Status string
	Leader                bool
}

// Page names, passed to Backend.Authorize: one per page that renders
// state (the token page renders none but is named too, so that every page
// goes through Authorize).
const (
	PageFleet    = "fleet"
	PageServers  = "servers"
	PageRollouts = "rollouts"
	PageRollout  = "rollout"
	PageClients  = "clients"
	PageClient   = "client"
	PageJobs     = "jobs"
	PageJob      = "job"
	PageAlloc    = "alloc"
	PageLogs     = "logs"
	PageServices = "services"
	PageTokens   = "tokens"
)

// Backend is what the UI needs from central.
type Backend interface {
	// Authorize checks a request for page (a Page* name) as the HTTP API
	// checks the endpoint that serves the same data, and returns the state
	// as the request's token may see it. A non-nil error refuses the
	// page: the UI answers 403 with the error's message.
	Authorize(r *http.Request, page string) (Reader, error)
	Members() []Member
	// LastHeartbeat is when the leader last heard from a node (zero if
	// unknown, e.g. on a follower).
	LastHeartbeat(nodeID string) time.Time
	// NodeStats is a node's device metrics of the last hour, oldest
	// first, as GET /v1/node/<id>/stats (nil if none).
	NodeStats(nodeID string) []Sample
	// LatestStats is a node's newest sample, without copying its hour
	// (the fleet overview asks it of every node).
	LatestStats(nodeID string) (Sample, bool)
}

// liveWait bounds a fragment request's wait for a change.
const liveWait = 10 * time.Second

// page is one UI page: the tables it shows and how to build its data.
type page struct {
	name   string // template name, also the nav key
	title  string
	tables []string // state tables whose change refreshes it
	build  func(r *http.Request, st Reader) (any, error)
}

// UI serves the web UI.
type UI struct {
	b     Backend
	log   *slog.Logger
	tmpls map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the UI handler, to be mounted at /ui/.
func New(b Backend, logger *slog.Logger) *UI {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u := &UI{b: b, log: logger, tmpls: map[string]*template.Template{}, mux: http.NewServeMux()}
	pages := []page{
		// The fleet's charts change with each heartbeat, which changes no
		// table: the live refresh's 10 s wait redraws them.
		{PageFleet, "Fleet", []string{"nodes"}, u.fleet},
		{PageServers, "Servers", nil, u.servers},
		{PageRollouts, "Agent rollouts", []string{"agent_rollouts"}, u.rollouts},
		{PageRollout, "Agent rollout", []string{"agent_rollouts"}, u.rollout},
		{PageClients, "Clients", []string{"nodes", "allocs"}, u.clients},
		{PageClient, "Client", []string{"nodes", "allocs"}, u.client},
		{PageJobs, "Jobs", []string{"jobs", "allocs"}, u.jobs},
		{PageJob, "Job", []string{"jobs", "allocs", "evals", "deployments"}, u.job},
		{PageAlloc, "Allocation", []string{"allocs"}, u.alloc},
		{PageLogs, "Logs", nil, u.allocLogs}, // no live refresh: its script streams the log
		{PageServices, "Services", []string{"services"}, u.services},
		{PageTokens, "ACL token", nil, func(*http.Request, Reader) (any, error) { return nil, nil }},
	}
	funcs := template.FuncMap{"ago": ago, "ts": ts, "tsms": func(ms int64) string { return ts(ms * 1e6) }, "short": short, "join": strings.Join, "statusClass": statusClass,
		"deployClass": deployClass, "max1": func(n int) int { return max(n, 1) },
		"pathEscape": url.PathEscape, // a dispatched or periodic child's job ID has a slash
		"pct":        pct, "celsius": celsius, "bytes": bytesIEC, "nan": math.IsNaN,
		"rolloutClass": rolloutClass, "add": func(d, n int) int { return n + d }, "rolloutNodeClass": rolloutNodeClass}
	for _, p := range pages {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p.name+".html"))
		u.tmpls[p.name] = t
	}
	routes := map[string]page{}
	for _, p := range pages {
		routes[p.name] = p
	}
	u.mux.Handle("GET /ui/{$}", http.RedirectHandler("/ui/fleet", http.StatusFound))
	for _, rt := range Routes() {
		p, ok := routes[rt.Page]
		if !ok {
			panic("BUG: ui: route " + rt.Pattern + " names no page " + rt.Page)
		}
		u.mux.Handle("GET "+rt.Pattern, u.serve(p))
	}
	sub, _ := fs.Sub(staticFS, "static")
	u.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(sub)))
	u.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page: "+r.URL.Path+" (pages: /ui/fleet, /ui/jobs, /ui/clients, /ui/servers, /ui/services)", http.StatusNotFound)
	})
	return u
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// Route is one page's URL pattern (net/http's syntax).
type Route struct{ Pattern, Page string }

// Routes returns every page the UI serves (GET only); besides them there
// are only /ui/ (a redirect to /ui/fleet) and the static assets, which show
// no state.
func Routes() []Route {
	return []Route{
		{"/ui/fleet", PageFleet},
		{"/ui/servers", PageServers},
		{"/ui/rollouts", PageRollouts},
		{"/ui/rollouts/{id}", PageRollout},
		{"/ui/clients", PageClients},
		{"/ui/clients/{id}", PageClient},
		{"/ui/jobs", PageJobs},
		{"/ui/jobs/{id}", PageJob},
		{"/ui/allocations/{id}", PageAlloc},
		{"/ui/allocations/{id}/logs", PageLogs},
		{"/ui/services", PageServices},
		{"/ui/settings/tokens", PageTokens},
	}
}

// view is what every template gets.
type view struct {
	Title string
	Nav   string
	Index uint64
	Data  any
}

// serve renders a page, or only its <main> for a live refresh.
func (u *UI) serve(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := u.b.Authorize(r, p.name)
		if err != nil {
			denied(w, err)
			return
		}
		q := r.URL.Query()
		fragment := q.Get("fragment") == "1"
		if fragment {
			if min, err := strconv.ParseUint(q.Get("index"), 10, 64); err == nil {
				wait(r.Context(), st, p.tables, min)
			}
		}
		idx := index(st, p.tables)
		data, err := p.build(r, st)
		if errors.Is(err, ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if errors.Is(err, ErrBadRequest) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		name := "layout.html"
		if fragment {
			name = "main"
		}
		var buf bytes.Buffer
		if err := u.tmpls[p.name].ExecuteTemplate(&buf, name, view{Title: p.title, Nav: p.name, Index: idx, Data: data}); err != nil {
			u.log.Error("BUG: UI template failed", "page", p.name, "err", err)
			http.Error(w, "rendering "+p.name+": "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		_, _ = w.Write(buf.Bytes())
	})
}

// denied answers a refused page: the reason, and a link to the token page.
func denied(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "<!doctype html><title>Not authorized</title><p>%s</p><p><a href=\"/ui/settings/tokens\">Set an ACL token</a></p>\n", template.HTMLEscapeString(err.Error()))
}

// index is the highest index of tables.
func index(st Reader, tables []string) uint64 {
	var idx uint64
	for _, t := range tables {
		idx = max(idx, st.Index(t))
	}
	return idx
}

// wait returns when a table passes min, after liveWait, or when ctx ends.
func wait(ctx context.Context, st Reader, tables []string, min uint64) {
	ctx, cancel := context.WithTimeout(ctx, liveWait)
	defer cancel()
	if index(st, tables) > min {
		return
	}
	if len(tables) == 0 {
		<-ctx.Done()
		return
	}
	done := make(chan struct{}, len(tables))
	for _, t := range tables {
		go func() {
			st.Wait(ctx, t, min)
			done <- struct{}{}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t).Round(time.Second)
	if d < time.Second {
		return "just now"
	}
	return d.String() + " ago"
}

// ts formats unix ns.
func ts(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000Z")
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// deployClass colours a deployment status.
func deployClass(s string) string {
	switch s {
	case structs.DeploymentSuccessful:
		return "ok"
	case structs.DeploymentRunning, structs.DeploymentPending, structs.DeploymentPaused:
		return "warn"
	case structs.DeploymentFailed, structs.DeploymentCancelled:
		return "bad"
	}
	return ""
}

func statusClass(s string) string {
	switch s {
	case "ready", "running", "complete", "alive", "true", "healthy":
		return "ok"
	case "disconnected", "unknown", "pending", "initializing":
		return "warn"
	case "down", "failed", "lost", "false":
		return "bad"
	}
	return ""
}
