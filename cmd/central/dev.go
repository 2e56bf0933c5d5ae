package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	agentconfig "github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/central/cli"
	"github.com/tether-edge/tether/central/server"
	"github.com/tether-edge/tether/central/structs"
	"github.com/tether-edge/tether/protocol"
)

// runDev runs `central dev`: one server, the embedded broker and one local
// agent (datacenter dc1) as a child process, like `nomad agent -dev`. Jobs
// given with -job are submitted once the agent is ready. On exit every job
// is stopped, so no task outlives the dev session.
func runDev(args []string, stdout, stderr io.Writer) int {
	var jobs listFlag
	var agentBin string
	cfg, level, fs, err := serverFlagsDev(args, stderr, &jobs, &agentBin)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return exitCodeOf(err)
	}
	_ = fs
	logger, err := newLogger(stderr, level)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "tether-dev-")
		if err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	if cfg.Name == "" {
		cfg.Name = "dev"
	}
	cfg.DevMode = true
	// Dev mode is one server on a loopback Raft port the OS picks: a
	// config file's raft address or bootstrap_expect would be ignored.
	if cfg.RaftAddr != "" || cfg.BootstrapExpect > 1 {
		fmt.Fprintln(stderr, "Error: central dev runs a single server on a loopback Raft port of its own: remove raft and bootstrap_expect from the config file, or run `central server` for a cluster")
		return exitUsage
	}
	// With ACLs the broker is locked too: per-node logins, anonymous
	// clients refused (they could publish on any node's topics), and the
	// local agent enrols with a join token like any other.
	if cfg.ACL {
		cfg.MQTTAuth = true
		if len(jobs) > 0 && os.Getenv("CENTRAL_TOKEN") == "" {
			fmt.Fprintln(stderr, "Error: -job with -acl: the jobs cannot be submitted before the ACL system is bootstrapped: start without -job, run `central acl bootstrap`, then `central job run` with the token (or set CENTRAL_TOKEN when -data-dir holds a bootstrapped state)")
			return exitUsage
		}
	}
	cfg.RaftAddr = "127.0.0.1:0"
	if cfg.HeartbeatTTL == 0 {
		cfg.HeartbeatTTL = 10 * time.Second
	}
	srv, err := server.New(cfg, logger, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	defer srv.Close()
	addr := srv.HTTPURL()
	fmt.Fprintf(stdout, "==> Tether central %s started in dev mode\n    HTTP API: %s\n    MQTT:     %s\n    Data dir: %s\n", server.Version, addr, srv.BrokerURLs()[0], cfg.DataDir)

	if agentBin == "" {
		agentBin = siblingBinary("agent")
	}
	agentArgs := []string{"-name", "dev-agent", "-datacenter", "dc1",
		"-broker", srv.BrokerURLs()[0], "-data-dir", filepath.Join(cfg.DataDir, "agent"), "-heartbeat", "2s",
		// Artifacts may come from a server on this machine (everything in
		// dev mode is on loopback); -central names central's API so the
		// agent still refuses to fetch from it (docs/artifacts.md).
		"-central", addr, "-artifact-allow-network", "127.0.0.0/8", "-artifact-allow-network", "::1/128"}
	agent := exec.Command(agentBin, append(agentArgs, devAgentTLS(cfg.TLS)...)...)
	agent.Stdout, agent.Stderr = stderr, stderr
	var joinAccessor string
	if cfg.MQTTAuth {
		// The broker takes only enrolled nodes: the agent enrols at -central
		// with a short-lived join token given in its environment (not in
		// its arguments, where ps shows it), deleted once it is ready.
		jt, err := devJoinToken(srv)
		if err != nil {
			fmt.Fprintln(stderr, "Error: a join token for the local agent:", err)
			return 1
		}
		joinAccessor = jt.Accessor
		agent.Env = append(os.Environ(), agentconfig.EnvJoinToken+"="+jt.Secret)
	}
	// Its own process group: Ctrl-C in the terminal reaches only central,
	// which stops the jobs first and the agent last.
	agent.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := agent.Start(); err != nil {
		fmt.Fprintf(stderr, "Error: start the local agent %s: %v (build it with `make build`, or pass -agent PATH)\n", agentBin, err)
		return 1
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Wait() }()
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		select {
		case <-agentDone:
		case <-time.After(10 * time.Second):
			agent.Process.Kill()
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := waitFor(ctx, 30*time.Second, func() bool { return len(readyNodes(srv)) > 0 }); err != nil {
		fmt.Fprintln(stderr, "Error: the local agent did not register:", err)
		return 1
	}
	fmt.Fprintf(stdout, "==> Local agent ready (node %s)\n", readyNodes(srv)[0])
	if joinAccessor != "" {
		if err := srv.DeleteJoinToken(joinAccessor); err != nil {
			fmt.Fprintln(stderr, "Warning: the local agent's join token was not deleted:", err)
		}
	}

	env := func(k string) string {
		switch {
		case k == "CENTRAL_ADDR":
			return addr
		case k == "CENTRAL_CACERT" && cfg.TLS.CAFile != "":
			return cfg.TLS.CAFile
		case k == "CENTRAL_CLIENT_CERT" && cfg.TLS.VerifyClient:
			return cfg.TLS.CertFile
		case k == "CENTRAL_CLIENT_KEY" && cfg.TLS.VerifyClient:
			return cfg.TLS.KeyFile
		}
		return os.Getenv(k)
	}
	// The -job files are submitted and monitored (a deployment can take
	// minutes) while Ctrl-C is listened for: it stops everything at once,
	// and the monitor falls silent.
	go func() {
		mout, merr := untilDone{ctx, stdout}, untilDone{ctx, stderr}
		for _, job := range jobs {
			if ctx.Err() != nil {
				return
			}
			if code := cli.Run([]string{"job", "submit", job}, mout, merr, env); code != 0 && ctx.Err() == nil {
				fmt.Fprintf(stderr, "Error: job %s was not submitted (exit %d)\n", job, code)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if cfg.ACL {
			fmt.Fprintf(stdout, "==> ACLs on; the broker takes only enrolled nodes. Get a management token with: CENTRAL_ADDR=%s central acl bootstrap\n", addr)
		}
		fmt.Fprintf(stdout, "==> Running. Web UI: %s/ui/  CLI: CENTRAL_ADDR=%s central job status  Ctrl-C stops everything.\n", addr, addr)
	}()
	select {
	case <-ctx.Done():
	case err := <-agentDone:
		fmt.Fprintln(stderr, "Error: the local agent exited:", err)
		agentDone <- err
		return 1
	}
	stop()
	// A second Ctrl-C (or SIGTERM) ends dev mode at once: the agent is
	// killed, its tasks are left running, central exits.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	go func() {
		if _, ok := <-again; ok {
			fmt.Fprintln(stderr, "==> Interrupted again: exiting now; the local agent is killed and its tasks keep running")
			agent.Process.Kill()
			os.Exit(exitError)
		}
	}()
	fmt.Fprintln(stdout, "==> Stopping jobs and shutting down (Ctrl-C again to exit at once)")
	stopAll(srv, 10*time.Second)
	return 0
}

// untilDone writes to w until ctx is done, then drops what it is given.
type untilDone struct {
	ctx context.Context
	w   io.Writer
}

func (u untilDone) Write(p []byte) (int, error) {
	if u.ctx.Err() != nil {
		return len(p), nil
	}
	return u.w.Write(p)
}

// devJoinToken makes the local agent's join token once this server leads
// (it is made through Raft).
func devJoinToken(srv *server.Server) (*server.JoinTokenResponse, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		jt, err := srv.CreateJoinToken("central dev: local agent", 5*time.Minute)
		if err == nil || time.Now().After(deadline) {
			return jt, err
		}
		time.Sleep(50 * time.Millisecond) // not leader yet: retry until the deadline
	}
}

func serverFlagsDev(args []string, stderr io.Writer, jobs *listFlag, agentBin *string) (server.Config, string, *flag.FlagSet, error) {
	return serverFlags("dev", args, stderr, true, func(fs *flag.FlagSet) {
		fs.Var(jobs, "job", "job `file` to submit once the local agent is ready (repeatable)")
		fs.StringVar(agentBin, "agent", "", "agent `binary` to run as the local agent (default: agent next to central, else on $PATH)")
	})
}

// devAgentTLS gives the local agent the server's CA and, with
// verify_client, the server's own certificate (it is valid for client
// auth too), so `central dev` with a tls block works as one command.
func devAgentTLS(t server.TLS) []string {
	var args []string
	if t.CAFile != "" {
		args = append(args, "-tls-ca-file", t.CAFile)
	}
	if t.VerifyClient {
		args = append(args, "-tls-cert-file", t.CertFile, "-tls-key-file", t.KeyFile)
	}
	return args
}

func siblingBinary(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}

func readyNodes(srv *server.Server) []string {
	var ids []string
	for _, n := range srv.Store().Nodes() {
		if n.Status == structs.NodeReady {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// stopAll stops every job and waits (up to timeout) for their allocations
// to finish on the agent.
func stopAll(srv *server.Server, timeout time.Duration) {
	st := srv.Store()
	for _, j := range st.Jobs("") {
		if !j.Stop {
			srv.StopJob(context.Background(), j.Namespace, j.ID, false)
		}
	}
	waitFor(context.Background(), timeout, func() bool {
		for _, a := range st.Allocs() {
			if a.ClientStatus == protocol.AllocRunning || a.ClientStatus == protocol.AllocPending {
				return false
			}
		}
		return true
	})
}
