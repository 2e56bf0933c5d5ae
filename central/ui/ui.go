package ui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/jobspec"
)

// ErrNotFound is returned by page builders for a missing object.
var ErrNotFound = errors.New("not found")

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Reader is the part of central's state store the UI reads (api.Reader
// has it all).
type Reader interface {
	Nodes() []*structs.Node
	Jobs(ns string) []*jobspec.Job
	JobByID(ns, id string) *jobspec.Job
	AllocsByJob(ns, jobID string) []*structs.Allocation
	AllocByID(id string) *structs.Allocation
	AllocsByIDPrefix(prefix string) []*structs.Allocation
	Services(ns string) []*structs.ServiceRegistration
	Index(table string) uint64
	Wait(ctx context.Context, table string, minIndex uint64) uint64
}

// Member is one server of the cluster.
type Member struct {
	Name, Address, Status string
	Leader                bool
}

// Backend is what the UI needs from central.
type Backend interface {
	State() Reader
	Members() []Member
	// LastHeartbeat is when the leader last heard from a node (zero if
	// unknown, e.g. on a follower).
	LastHeartbeat(nodeID string) time.Time
}

// liveWait bounds a fragment request's wait for a change.
const liveWait = 10 * time.Second

// page is one UI page: the tables it shows and how to build its data.
type page struct {
	name   string // template name, also the nav key
	title  string
	tables []string // state tables whose change refreshes it
	build  func(r *http.Request) (any, error)
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
		{"servers", "Servers", nil, u.servers},
		{"clients", "Clients", []string{"nodes", "allocs"}, u.clients},
		{"jobs", "Jobs", []string{"jobs", "allocs"}, u.jobs},
		{"job", "Job", []string{"jobs", "allocs"}, u.job},
		{"alloc", "Allocation", []string{"allocs"}, u.alloc},
		{"services", "Services", []string{"services"}, u.services},
		{"tokens", "ACL token", nil, func(*http.Request) (any, error) { return nil, nil }},
	}
	funcs := template.FuncMap{"ago": ago, "ts": ts, "short": short, "join": strings.Join, "statusClass": statusClass}
	for _, p := range pages {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p.name+".html"))
		u.tmpls[p.name] = t
	}
	routes := map[string]page{}
	for _, p := range pages {
		routes[p.name] = p
	}
	u.mux.Handle("GET /ui/{$}", http.RedirectHandler("/ui/jobs", http.StatusFound))
	u.mux.Handle("GET /ui/servers", u.serve(routes["servers"]))
	u.mux.Handle("GET /ui/clients", u.serve(routes["clients"]))
	u.mux.Handle("GET /ui/jobs", u.serve(routes["jobs"]))
	u.mux.Handle("GET /ui/jobs/{id}", u.serve(routes["job"]))
	u.mux.Handle("GET /ui/allocations/{id}", u.serve(routes["alloc"]))
	u.mux.Handle("GET /ui/services", u.serve(routes["services"]))
	u.mux.Handle("GET /ui/settings/tokens", u.serve(routes["tokens"]))
	sub, _ := fs.Sub(staticFS, "static")
	u.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(sub)))
	u.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page: "+r.URL.Path+" (pages: /ui/jobs, /ui/clients, /ui/servers, /ui/services)", http.StatusNotFound)
	})
	return u
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

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
		q := r.URL.Query()
		fragment := q.Get("fragment") == "1"
		if fragment {
			if min, err := strconv.ParseUint(q.Get("index"), 10, 64); err == nil {
				u.wait(r.Context(), p.tables, min)
			}
		}
		idx := u.index(p.tables)
		data, err := p.build(r)
		if errors.Is(err, ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
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

// index is the highest index of tables.
func (u *UI) index(tables []string) uint64 {
	var idx uint64
	for _, t := range tables {
		idx = max(idx, u.b.State().Index(t))
	}
	return idx
}

// wait returns when a table passes min, after liveWait, or when ctx ends.
func (u *UI) wait(ctx context.Context, tables []string, min uint64) {
	ctx, cancel := context.WithTimeout(ctx, liveWait)
	defer cancel()
	if u.index(tables) > min {
		return
	}
	if len(tables) == 0 {
		<-ctx.Done()
		return
	}
	done := make(chan struct{}, len(tables))
	for _, t := range tables {
		go func() {
			u.b.State().Wait(ctx, t, min)
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
