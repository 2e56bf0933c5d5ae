package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tether-edge/tether/central/structs"
)

// serviceListEntry mirrors api.ServiceListEntry.
type serviceListEntry struct {
	ServiceName string   `json:"service_name"`
	Namespace   string   `json:"namespace"`
	Tags        []string `json:"tags"`
}

func (e *env) serviceList(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	e.nsFlag(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var list []serviceListEntry
	b, _, err := e.get(ctx, "/v1/services", e.nsQuery(), &list)
	if err != nil {
		return e.fail("listing services", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "No services registered")
		return exitOK
	}
	rows := [][]string{{"Service Name", "Tags"}}
	for _, s := range list {
		rows = append(rows, []string{s.ServiceName, "[" + strings.Join(s.Tags, ",") + "]"})
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) serviceInfo(args []string) int {
	fs := e.flags()
	e.readFlags(fs)
	e.nsFlag(fs)
	var all bool
	var tags stringList
	fs.BoolVar(&all, "all", false, "include unhealthy instances")
	fs.Var(&tags, "tag", "only instances with this tag; repeatable (all must match)")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	name := fs.Arg(0)
	q := e.nsQuery()
	if all {
		q.Set("all", "true")
	}
	for _, t := range tags {
		q.Add("tag", t)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var regs []*structs.ServiceRegistration
	b, _, err := e.get(ctx, "/v1/service/"+url.PathEscape(name), q, &regs)
	if err != nil {
		return e.fail("querying service", err)
	}
	if e.json {
		return e.printJSON(b)
	}
	if len(regs) == 0 {
		what := "healthy instances"
		if all {
			what = "instances"
		}
		fmt.Fprintf(e.stderr, "No %s of service %q", what, name)
		if !all {
			fmt.Fprint(e.stderr, " (-all shows unhealthy ones)")
		}
		fmt.Fprintln(e.stderr)
		return exitError
	}
	rows := [][]string{{"Job", "Address", "Tags", "Node", "Alloc", "Healthy"}}
	if e.verbose {
		rows[0] = append(rows[0], "ID")
	}
	for _, r := range regs {
		row := []string{r.JobID, fmt.Sprintf("%s:%d", r.Address, r.Port), "[" + strings.Join(r.Tags, ",") + "]",
			e.short(r.NodeID), e.short(r.AllocID), strconv.FormatBool(r.Healthy)}
		if e.verbose {
			row = append(row, r.ID)
		}
		rows = append(rows, row)
	}
	table(e.stdout, rows)
	return exitOK
}

func (e *env) serviceDelete(args []string) int {
	fs := e.flags()
	e.nsFlag(fs)
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 2, 2) {
		return exitUsage
	}
	name, id := fs.Arg(0), fs.Arg(1)
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/service/"+url.PathEscape(name)+"/"+url.PathEscape(id), e.nsQuery(), nil); err != nil {
		return e.fail("deleting service instance", err)
	}
	fmt.Fprintf(e.stdout, "Deleted instance %q of service %q\n", id, name)
	return exitOK
}
