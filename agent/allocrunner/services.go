package allocrunner

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tether-edge/tether/agent/health"
	"github.com/tether-edge/tether/agent/taskenv"
	"github.com/tether-edge/tether/protocol"
)

// taskRegs are the service instances a running task registers. Owned by
// the Runner's Run goroutine.
type taskRegs struct {
	gen    uint64 // tells health reports of this registration from older ones
	regs   []protocol.ServiceReg
	cancel context.CancelFunc // stops the checks
}

// healthReport is a service's new health from its checks.
type healthReport struct {
	task    string
	gen     uint64
	idx     int
	status  health.Status
	restart string // check_restart asks for the task to be restarted, for this reason
}

// register computes the task's service instances and starts their checks.
// A service without checks is healthy while the task runs; one with checks
// is unhealthy until they all pass.
func (r *Runner) register(ctx context.Context, task *protocol.Task) {
	if len(task.Services) == 0 {
		return
	}
	r.regGen++
	gen := r.regGen
	env := r.taskEnv(task)
	cctx, cancel := context.WithCancel(ctx)
	tr := &taskRegs{gen: gen, cancel: cancel}
	for i, s := range task.Services {
		addr, port, problem := r.serviceTarget(s, env)
		reg := protocol.ServiceReg{
			Name: env.Replace(s.Name), Task: task.Name, PortLabel: s.PortLabel, Address: addr, Port: port,
			Tags: replaceAll(env, s.Tags), Healthy: len(s.Checks) == 0 && problem == "", Output: problem,
		}
		if len(s.Checks) > 0 && problem == "" {
			reg.Output = "pending: waiting for the first check results"
		}
		tr.regs = append(tr.regs, reg)
		if len(s.Checks) == 0 || problem != "" {
			continue
		}
		checks := make([]health.Check, 0, len(s.Checks))
		for _, c := range s.Checks {
			cport := port
			if c.PortLabel != "" {
				if p, ok := r.portOf(c.PortLabel); ok {
					cport = p
				}
			}
			checks = append(checks, health.Check{
				Type: c.Type, Addr: net.JoinHostPort(addr, strconv.Itoa(cport)), Path: c.Path,
				Method: c.Method, Header: c.Header, Body: c.Body,
				Interval: time.Duration(c.IntervalMs) * time.Millisecond, Timeout: time.Duration(c.TimeoutMs) * time.Millisecond,
				RestartLimit: c.RestartLimit, RestartGrace: time.Duration(c.RestartGraceMs) * time.Millisecond,
			})
		}
		idx, name := i, task.Name
		health.WatchRestart(cctx, checks, func(st health.Status) {
			select {
			case r.healthCh <- healthReport{task: name, gen: gen, idx: idx, status: st}:
			case <-cctx.Done():
			}
		}, func(reason string) {
			select {
			case r.healthCh <- healthReport{task: name, gen: gen, idx: idx, restart: reason}:
			case <-cctx.Done():
			}
		})
	}
	r.regs[task.Name] = tr
}

// deregister drops the task's instances and stops their checks.
func (r *Runner) deregister(task string) {
	if tr := r.regs[task]; tr != nil {
		tr.cancel()
		delete(r.regs, task)
	}
}

// applyHealth records a check result; it reports whether anything changed.
func (r *Runner) applyHealth(h healthReport) bool {
	tr := r.regs[h.task]
	if tr == nil || tr.gen != h.gen || h.idx >= len(tr.regs) {
		return false // from a registration that is gone
	}
	if h.restart != "" {
		if t := r.runners[h.task]; t != nil {
			t.askCheckRestart(checkRestartReq{reason: h.restart, startedAt: r.states[h.task].StartedAt}) // checkrestart.go
		}
		return false
	}
	reg := &tr.regs[h.idx]
	if reg.Healthy == h.status.Healthy && reg.Output == h.status.Output {
		return false
	}
	reg.Healthy, reg.Output = h.status.Healthy, h.status.Output
	return true
}

// services is the alloc's full current set of instances, in task order.
func (r *Runner) services() []protocol.ServiceReg {
	var out []protocol.ServiceReg
	names := make([]string, 0, len(r.regs))
	for n := range r.regs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, reg := range r.regs[n].regs {
			reg.Tags = append([]string(nil), reg.Tags...)
			out = append(out, reg)
		}
	}
	return out
}

// serviceTarget is the address and port a service registers with; problem
// says why it cannot be reached ("" if it can).
func (r *Runner) serviceTarget(s protocol.Service, env *taskenv.Env) (addr string, port int, problem string) {
	addr = env.Replace(s.Address)
	if addr == "" {
		addr = r.cfg.Node.Attributes["unique.network.ip-address"]
	}
	if addr == "" {
		addr = "127.0.0.1"
	}
	if strings.Contains(addr, "${") {
		problem = fmt.Sprintf("address %q has an unresolved reference: fix the service's address", addr)
	}
	if s.PortLabel != "" {
		p, ok := r.portOf(s.PortLabel)
		if !ok && problem == "" {
			problem = fmt.Sprintf("port %q is not a port of the allocation: add it to the group's network block", s.PortLabel)
		}
		port = p
	}
	return addr, port, problem
}

// portOf is the host port of a label, or a literal port number.
func (r *Runner) portOf(label string) (int, bool) {
	for _, p := range r.alloc.Ports {
		if p.Label == label {
			return p.Value, true
		}
	}
	if n, err := strconv.Atoi(label); err == nil && n > 0 && n < 65536 {
		return n, true
	}
	return 0, false
}

func replaceAll(env *taskenv.Env, in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = env.Replace(s)
	}
	return out
}
