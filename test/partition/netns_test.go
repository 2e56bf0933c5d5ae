package partition

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// TestMain lets the test binary act as a tiny TCP server or client inside
// a namespace (PARTITION_HELPER=listen|dial), so the tests need no nc.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PARTITION_HELPER"); mode != "" {
		os.Exit(helper(mode, os.Getenv("PARTITION_ADDR")))
	}
	os.Exit(m.Run())
}

// helper exit codes for dial.
const (
	dialOK       = 0
	dialFailed   = 1
	dialTimedOut = 2
)

func helper(mode, addr string) int {
	switch mode {
	case "listen":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		fmt.Println("ready")
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				line, _ := r.ReadString('\n')
				fmt.Fprint(c, line)
			}()
		}
	case "dial":
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			fmt.Println(err)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return dialTimedOut
			}
			return dialFailed
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintln(c, "ping")
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "ping\n" {
			fmt.Println("read", line, err)
			return dialFailed
		}
		fmt.Println("ok")
		return dialOK
	}
	return 1
}

// dialFrom runs the dial helper inside ns and returns its exit code.
func dialFrom(t *testing.T, ns *Netns, addr string) int {
	t.Helper()
	cmd := ns.Wrap(exec.Command(os.Args[0]))
	cmd.Env = append(os.Environ(), "PARTITION_HELPER=dial", "PARTITION_ADDR="+addr)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return dialOK
	case errors.As(err, &ee):
		t.Logf("dial %s from %s: %s", addr, ns.Name(), strings.TrimSpace(string(out)))
		return ee.ExitCode()
	}
	t.Fatalf("dial helper: %v: %s", err, out)
	return -1
}

func mustNetns(t *testing.T, name string) *Netns {
	t.Helper()
	ns, err := NewNetns(t, name)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestNetnsTwoNamespacesDropRestore: a server in one namespace, a client in
// another, routed through the host; Drop in the client's namespace makes
// the connect time out and Restore brings it back.
func TestNetnsTwoNamespacesDropRestore(t *testing.T) {
	Require(t)
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	testhost.Require(t, strings.TrimSpace(string(fwd)) == "1", "IPv4 forwarding on the host (net.ipv4.ip_forward is 0: namespaces cannot reach each other through it)", "sysctl -w net.ipv4.ip_forward=1; .ci/run does")
	srv, cli := mustNetns(t, "srv"), mustNetns(t, "cli")
	if srv.Addr() == cli.Addr() || !strings.HasPrefix(srv.Addr(), "10.251.") || !strings.HasSuffix(srv.HostAddr(), ".1") {
		t.Fatalf("addresses srv %s/%s cli %s/%s", srv.Addr(), srv.HostAddr(), cli.Addr(), cli.HostAddr())
	}
	listen := srv.Wrap(exec.Command(os.Args[0]))
	listen.Env = append(os.Environ(), "PARTITION_HELPER=listen", "PARTITION_ADDR="+net.JoinHostPort(srv.Addr(), "7000"))
	stdout, err := listen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.StartCmd(listen); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("listener in %s: %q %v", srv.Name(), line, err)
	}
	target := net.JoinHostPort(srv.Addr(), "7000")
	if code := dialFrom(t, cli, target); code != dialOK {
		t.Fatalf("before Drop: dial exit %d, want ok", code)
	}
	if err := cli.Drop(srv.Addr()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := dialFrom(t, cli, target); code != dialTimedOut {
		t.Fatalf("after Drop: dial exit %d, want a timeout", code)
	}
	t.Logf("connect timed out after %v", time.Since(start).Round(10*time.Millisecond))
	if err := cli.Restore(); err != nil {
		t.Fatal(err)
	}
	if code := dialFrom(t, cli, target); code != dialOK {
		t.Fatalf("after Restore: dial exit %d, want ok", code)
	}
}

// TestNetnsReachesHostBroker: a listener bound on the veth's host address
// (as a broker would be) is reachable from the namespace until Drop.
func TestNetnsReachesHostBroker(t *testing.T) {
	ns := mustNetns(t, "edge")
	ln, err := net.Listen("tcp", net.JoinHostPort(ns.HostAddr(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Fprint(c, line)
			}()
		}
	}()
	if code := dialFrom(t, ns, ln.Addr().String()); code != dialOK {
		t.Fatalf("dial host listener: exit %d", code)
	}
	if err := ns.Drop(ns.HostAddr()); err != nil {
		t.Fatal(err)
	}
	if code := dialFrom(t, ns, ln.Addr().String()); code != dialTimedOut {
		t.Fatalf("after Drop: exit %d, want a timeout", code)
	}
	if err := ns.Restore(); err != nil {
		t.Fatal(err)
	}
	if code := dialFrom(t, ns, ln.Addr().String()); code != dialOK {
		t.Fatalf("after Restore: exit %d", code)
	}
	out, err := ns.Exec("ip", "-o", "addr", "show")
	if err != nil || !strings.Contains(string(out), ns.Addr()+"/30") {
		t.Errorf("Exec ip addr: %v\n%s", err, out)
	}
}

// TestNetnsCleanup: the namespace, its veth and its processes are gone
// after the test that made them.
func TestNetnsCleanup(t *testing.T) {
	Require(t)
	var name, hostIf string
	var cmd *exec.Cmd
	t.Run("make", func(t *testing.T) {
		ns := mustNetns(t, "gone")
		name, hostIf = ns.Name(), ns.HostInterface()
		var err error
		if cmd, err = ns.Start("sleep", "300"); err != nil {
			t.Fatal(err)
		}
	})
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil || strings.Contains(string(out), name) {
		t.Errorf("namespace %s still listed: %v\n%s", name, err, out)
	}
	if err := exec.Command("ip", "link", "show", hostIf).Run(); err == nil {
		t.Errorf("veth %s still exists", hostIf)
	}
	if cmd == nil || cmd.ProcessState == nil {
		t.Errorf("process started in the namespace was not reaped")
	}
}

func TestNetnsBadName(t *testing.T) {
	Require(t)
	if _, err := NewNetns(t, "a/b"); err == nil {
		t.Error("name with a slash accepted")
	}
}
