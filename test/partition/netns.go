package partition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// ErrIPTables is returned by Drop when iptables is not installed.
var ErrIPTables = errors.New("partition: iptables not found; install it (Debian: apt-get install -y iptables)")

// Address plan: namespace k gets 10.251.k.0/30, the host end of its veth
// 10.251.k.1 and the namespace end 10.251.k.2. k is claimed by creating the
// veth pair "tpart<k>h"/"tpart<k>n", which fails if another test (in any
// process) holds it, so concurrent tests never share a range.
const (
	subnetPrefix = "10.251."
	maxSubnets   = 250
	cmdTimeout   = 10 * time.Second
)

// Netns is a network namespace made by a test, joined to the host by a veth
// pair. Processes run inside it with Command, Start or Exec. A broker the
// namespace should reach must listen on HostAddr() (not 0.0.0.0, which would
// also expose it on the machine's real interfaces). Everything is removed by
// t.Cleanup.
type Netns struct {
	t        testing.TB
	name     string
	hostIf   string
	hostAddr string
	nsAddr   string

	mu      sync.Mutex // guards dropped
	dropped []string   // sources Drop added rules for, in order
}

// Require skips t when network namespaces cannot be made here (not root,
// or no working `ip netns`); under CI=true it fails instead (testhost.Require):
// CI must run the partition tests.
func Require(t testing.TB) {
	t.Helper()
	reason := ""
	switch {
	case os.Geteuid() != 0:
		reason = "partition tests need root to make network namespaces (run as root, e.g. in CI)"
	default:
		if _, err := exec.LookPath("ip"); err != nil {
			reason = "partition tests need `ip` from iproute2 (Debian: apt-get install -y iproute2)"
		} else if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
			reason = fmt.Sprintf("partition tests need `ip netns`, which failed: %v: %s", err, strings.TrimSpace(string(out)))
		}
	}
	testhost.Require(t, reason == "", "network namespaces for the partition tests ("+reason+")", "run as root with iproute2 and iptables; .ci/run does")
}

// NewNetns makes a namespace named "tether-<name>-<k>" with a veth pair to
// the host, addresses from 10.251.k.0/30 on both ends, lo up, and a default
// route via the host end. It skips t (see Require) when namespaces are not
// available.
func NewNetns(t testing.TB, name string) (*Netns, error) {
	t.Helper()
	Require(t)
	if name == "" || strings.ContainsAny(name, "/ \t\n\x00") || len(name) > 32 {
		return nil, fmt.Errorf("partition: bad namespace name %q; use up to 32 letters, digits and '-'", name)
	}
	for k := 1; k <= maxSubnets; k++ {
		hostIf, nsIf := fmt.Sprintf("tpart%dh", k), fmt.Sprintf("tpart%dn", k)
		if _, err := run("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf); err != nil {
			if strings.Contains(err.Error(), "exists") {
				continue // claimed by someone else
			}
			return nil, err
		}
		n := &Netns{
			t:        t,
			name:     fmt.Sprintf("tether-%s-%d", name, k),
			hostIf:   hostIf,
			hostAddr: fmt.Sprintf("%s%d.1", subnetPrefix, k),
			nsAddr:   fmt.Sprintf("%s%d.2", subnetPrefix, k),
		}
		t.Cleanup(n.destroy)
		steps := [][]string{
			{"ip", "netns", "add", n.name},
			{"ip", "link", "set", nsIf, "netns", n.name},
			{"ip", "addr", "add", n.hostAddr + "/30", "dev", hostIf},
			{"ip", "link", "set", hostIf, "up"},
			{"ip", "-n", n.name, "addr", "add", n.nsAddr + "/30", "dev", nsIf},
			{"ip", "-n", n.name, "link", "set", nsIf, "up"},
			{"ip", "-n", n.name, "link", "set", "lo", "up"},
			{"ip", "-n", n.name, "route", "add", "default", "via", n.hostAddr},
		}
		for _, s := range steps {
			if _, err := run(s[0], s[1:]...); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	return nil, fmt.Errorf("partition: all %d test subnets 10.251.1-%d.0/30 are taken; delete stale tpart* links (ip link del tpart1h)", maxSubnets, maxSubnets)
}

// Name is the namespace's name, as `ip netns` knows it.
func (n *Netns) Name() string { return n.name }

// Addr is the namespace's address on its veth (10.251.k.2).
func (n *Netns) Addr() string { return n.nsAddr }

// HostAddr is the host's address on the veth (10.251.k.1): bind a broker
// here for processes in the namespace to reach it.
func (n *Netns) HostAddr() string { return n.hostAddr }

// HostInterface is the host end of the veth pair.
func (n *Netns) HostInterface() string { return n.hostIf }

// Command returns a command that runs name with args inside the namespace.
// Set its Env, Stdout and so on as for exec.Command.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// Wrap rewrites cmd, not yet started, to run inside the namespace, keeping
// its Env, Dir and standard streams.
func (n *Netns) Wrap(cmd *exec.Cmd) *exec.Cmd {
	ip, err := exec.LookPath("ip")
	if err != nil {
		ip = "ip"
	}
	args := append([]string{ip, "netns", "exec", n.name, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, cmd.Args, cmd.Err = ip, args, nil
	return cmd
}

// Start starts name with args inside the namespace; t.Cleanup kills it (by
// its pid) and waits for it.
func (n *Netns) Start(name string, args ...string) (*exec.Cmd, error) {
	cmd := n.Command(name, args...)
	if err := n.StartCmd(cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// StartCmd starts cmd (from Command, or Wrap) and has t.Cleanup kill it
// and wait for it, unless the test waited for it first.
func (n *Netns) StartCmd(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("partition: start %v in %s: %w", cmd.Args, n.name, err)
	}
	n.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill() // `ip netns exec` execs the command: this is it
			cmd.Wait()
		}
	})
	return nil
}

// Exec runs name with args inside the namespace and returns its combined
// output.
func (n *Netns) Exec(name string, args ...string) ([]byte, error) {
	return run("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// Drop adds `iptables -I INPUT -s src -j DROP` inside the namespace: packets
// from src are dropped silently, so connections to and from src hang as
// behind a broken link. Drop(n.HostAddr()) cuts the namespace off from a
// broker on the host.
func (n *Netns) Drop(src string) error {
	if _, err := exec.LookPath("iptables"); err != nil {
		return ErrIPTables
	}
	if _, err := n.Exec("iptables", "-w", "-I", "INPUT", "-s", src, "-j", "DROP"); err != nil {
		return err
	}
	n.mu.Lock()
	n.dropped = append(n.dropped, src)
	n.mu.Unlock()
	return nil
}

// Restore removes every rule Drop added.
func (n *Netns) Restore() error {
	n.mu.Lock()
	dropped := slices.Clone(n.dropped)
	n.dropped = nil
	n.mu.Unlock()
	var errs []error
	for _, src := range dropped {
		if _, err := n.Exec("iptables", "-w", "-D", "INPUT", "-s", src, "-j", "DROP"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// destroy deletes the namespace (which takes its veth end, and so the pair,
// with it) and the host end if it is still there.
func (n *Netns) destroy() {
	if _, err := run("ip", "netns", "del", n.name); err != nil && !strings.Contains(err.Error(), "No such file") {
		n.t.Logf("partition: cleanup: %v", err)
	}
	if _, err := run("ip", "link", "show", n.hostIf); err == nil {
		if _, err := run("ip", "link", "del", n.hostIf); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			n.t.Logf("partition: cleanup: %v", err)
		}
	}
}

// run runs a command with a timeout and returns its combined output; the
// error names the command and carries its output.
func run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("partition: %s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
