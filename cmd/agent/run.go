package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/tether-edge/tether/agent"
	"github.com/tether-edge/tether/agent/config"
	"github.com/tether-edge/tether/agent/upgrade"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// signals stop the agent gracefully; tests replace them.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// run is the agent's main. It returns the process exit code: 0 after a
// clean stop (SIGINT/SIGTERM: tasks keep running for the next agent to
// re-attach), 1 on a startup error, 2 on bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "agent"
	if len(args) > 0 {
		args, name = args[1:], args[0]
	}
	if len(args) == 1 && args[0] == "version" {
		printVersion(stdout)
		return 0
	}
	if len(args) > 0 && args[0] == "upgrade-watchdog" { // started by an agent upgrading itself (docs/upgrades.md)
		return upgrade.RunWatchdog(args[1:], stderr)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.RegisterFlags(fs)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "agent: unexpected argument %q: the agent takes only flags (see -help)\n", fs.Arg(0))
		return 2
	}
	if *showVersion {
		printVersion(stdout)
		return 0
	}
	cfg, err := flags.Load()
	// Read once, gone from the environment: tasks (${env.*}, child
	// processes) never see the join token.
	os.Unsetenv(config.EnvJoinToken)
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v\n", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level(cfg.LogLevel)}))
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "join-token" {
			logger.Warn("-join-token on the command line is visible to every user of this machine (ps, /proc/<pid>/cmdline): use -join-token-file FILE (mode 0600) or the environment variable " + config.EnvJoinToken)
		}
	})
	ds, closeAll := buildDrivers(cfg, logger)
	var closeOnce sync.Once
	closeDrivers := func() { closeOnce.Do(closeAll) }
	defer closeDrivers()
	a, err := agent.New(agent.Options{
		Config:  cfg,
		Drivers: ds,
		Addrs:   advertised(cfg.Advertise),
		Logger:  logger,
		Version: version,
	})
	if err != nil {
		logger.Error("agent cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, stopSignals...)
	defer stop()
	err = a.Run(ctx)
	var up *agent.UpgradeReady
	if errors.As(err, &up) {
		stop()
		closeDrivers()
		return switchAgent(up.Plan, append([]string{name}, args...), logger)
	}
	if err != nil {
		logger.Error("agent stopped", "err", err)
		return 1
	}
	return 0
}

// switchAgent execs the new agent binary in this process; if it cannot,
// the previous binary is in place again and the agent execs it (the same
// version, which reports the failure). It returns only when both fail.
func switchAgent(p upgrade.Plan, args []string, logger *slog.Logger) int {
	err := upgrade.Switch(p, args, logger)
	logger.Error("agent upgrade failed; starting this version again", "version", p.Order.Version, "err", err)
	err = upgrade.Reexec(args)
	logger.Error("agent cannot exec itself again after a failed upgrade", "err", err)
	return 1
}

func level(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// advertised makes the fingerprint report addr as the node's address; nil
// (the interfaces' addresses) when addr is empty.
func advertised(addr string) func() ([]net.Addr, error) {
	if addr == "" {
		return nil
	}
	ip := net.ParseIP(addr)
	return func() ([]net.Addr, error) {
		return []net.Addr{&net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}, nil
	}
}
