package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tether-edge/tether/bench/internal/sim"
)

// sweepMain runs the standard sweep: for each broker kind and N, a fresh
// 3-server central (separate processes, -bootstrap-expect 3, -join), the
// broker, and this simulator as another process with every phase; the
// results go to a JSON file, a chart (SVG) and a Markdown table.
//
//	go run ./bench/fleet -sweep -central-bin bin/central -agents 1000,5000,10000 -brokers embedded,mosquitto
func sweepMain(args []string) int {
	fs := flag.NewFlagSet("fleet -sweep", flag.ContinueOnError)
	bin := fs.String("central-bin", "bin/central", "central binary")
	ns := fs.String("agents", "1000,5000,10000", "simulated agents per run, comma-separated")
	kinds := fs.String("brokers", "embedded,mosquitto", "broker kinds, comma-separated: embedded (a follower's embedded broker holds every agent), mosquitto, nats (a 3-node NATS cluster; one node is killed instead of the broker restart)")
	beat := fs.Duration("heartbeat", 15*time.Second, "agents' heartbeat interval")
	ttl := fs.Duration("heartbeat-ttl", 25*time.Second, "central's -heartbeat-ttl (grace 5s on top); the boards' advice for a 15s heartbeat")
	dur := fs.Duration("duration", 60*time.Second, "steady-state window")
	churn := fs.Float64("churn", 0, "churn phase: share of agents leaving per minute (0: none)")
	flap := fs.Float64("flap", 0.01, "task flaps per agent per minute")
	results := fs.String("results", "bench/fleet/results.json", "results file (runs of the same label and N are replaced)")
	svg := fs.String("svg", "docs/scale.svg", "chart written from the results file")
	rate := fs.Int("connect-rate", 500, "new agent connections per second at start")
	natsConsumers := fs.Int("nats-consumer-replicas", 0, "nats: mqtt consumer_replicas (0: NATS's default, the streams' 3; 1: each subscription's consumer on one node)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	raiseFileLimit()
	dir, err := os.MkdirTemp("", "tether-fleet-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet sweep:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	simBin := filepath.Join(dir, "fleet")
	if out, err := exec.Command("go", "build", "-o", simBin, "./bench/fleet").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "fleet sweep: build the simulator: %v\n%s", err, out)
		return 1
	}
	all := readResults(*results)
	rc := 0
	for _, kind := range strings.Split(*kinds, ",") {
		for _, nstr := range strings.Split(*ns, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(nstr))
			if err != nil {
				fmt.Fprintf(os.Stderr, "fleet sweep: -agents %q: want numbers such as 1000,5000\n", nstr)
				return 2
			}
			fmt.Printf("\n== %s broker, %d simulated agents ==\n", kind, n)
			r, err := sweepOne(*bin, simBin, filepath.Join(dir, fmt.Sprintf("%s-%d", kind, n)), kind, n, *beat, *ttl, *dur, *churn, *flap, *rate, *natsConsumers)
			if err != nil {
				fmt.Fprintln(os.Stderr, "fleet sweep:", err)
				rc = 1
			}
			if r != nil {
				all = mergeResult(all, *r)
				if err := writeResults(*results, all); err != nil {
					fmt.Fprintln(os.Stderr, "fleet sweep:", err)
				}
			}
		}
	}
	if *svg != "" {
		if err := os.WriteFile(*svg, []byte(chart(all)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fleet sweep:", err)
			rc = 1
		}
	}
	fmt.Println()
	fmt.Print(table(all))
	return rc
}

// raiseFileLimit lets this process and its children (servers, broker,
// simulator) hold 10,000+ connections each.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	want := uint64(200000)
	if l.Max < want {
		l.Max = want // allowed for root; otherwise keep what we have
	}
	l.Cur = l.Max
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

type server struct {
	name, http, raft, mqtt string
	args                   []string
	cmd                    *exec.Cmd
}

func freePort() string { return sim.FreeAddr() }

// sweepOne runs one configuration end to end.
func sweepOne(bin, simBin, dir, kind string, n int, beat, ttl, dur time.Duration, churn, flap float64, rate, natsConsumers int) (*Result, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin, _ = filepath.Abs(bin)
	var brokerURL, mosqConf string
	var agentBrokers []string // the simulator's -broker values: brokerURL unless a cluster
	grace := 5 * time.Second  // central's default heartbeat grace
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	if kind == "mosquitto" {
		addr := freePort()
		host, port, _ := net.SplitHostPort(addr)
		mosqConf = filepath.Join(dir, "mosquitto.conf")
		conf := fmt.Sprintf("listener %s %s\nallow_anonymous true\nmax_connections -1\npersistence false\npid_file %s\nuser root\nlog_dest none\nmax_queued_messages 0\n",
			port, host, filepath.Join(dir, "mosquitto.pid"))
		if err := os.WriteFile(mosqConf, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		if out, err := exec.Command("mosquitto", "-c", mosqConf, "-d").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("start mosquitto: %v: %s", err, out)
		}
		cleanup = append(cleanup, func() { killPidFile(filepath.Join(dir, "mosquitto.pid")) })
		brokerURL = "tcp://" + addr
		if err := waitPort(addr); err != nil {
			return nil, fmt.Errorf("mosquitto: %w", err)
		}
	} else if kind == "nats" {
		urls, stop, err := startNATS(dir, natsConsumers)
		cleanup = append(cleanup, stop)
		if err != nil {
			return nil, err
		}
		brokerURL, agentBrokers = strings.Join(urls, ","), urls
		grace = 60 * time.Second // docs/nats.md: while the cluster elects stream leaders
	} else if kind != "embedded" {
		return nil, fmt.Errorf("broker kind %q: use embedded, mosquitto or nats", kind)
	}
	var servers []*server
	for i := range 3 {
		s := &server{name: fmt.Sprintf("s%d", i+1), http: freePort(), raft: freePort(), mqtt: freePort()}
		s.args = []string{"server", "-name", s.name, "-data-dir", filepath.Join(dir, s.name), "-http", s.http, "-raft", s.raft,
			"-bootstrap-expect", "3", "-log-level", "warn", "-heartbeat-ttl", ttl.String(), "-heartbeat-grace", grace.String(), "-enable-debug"}
		if brokerURL != "" {
			s.args = append(s.args, "-broker", brokerURL)
		} else {
			s.args = append(s.args, "-mqtt", s.mqtt)
		}
		servers = append(servers, s)
	}
	for _, s := range servers {
		for _, o := range servers {
			if o != s {
				s.args = append(s.args, "-join", o.http)
			}
		}
		if err := startServer(bin, dir, s); err != nil {
			return nil, err
		}
	}
	cleanup = append(cleanup, func() {
		for _, s := range servers {
			killPidFile(filepath.Join(dir, s.name+".pid"))
		}
	})
	var leader *server
	if err := sim.WaitFor(60*time.Second, func() bool {
		var addrs []string
		for _, s := range servers {
			var a string
			sim.GetJSON("http://"+s.http+"/v1/status/leader", &a)
			addrs = append(addrs, a)
		}
		for _, s := range servers {
			if addrs[0] == s.http && addrs[1] == s.http && addrs[2] == s.http {
				leader = s
			}
		}
		return leader != nil
	}); err != nil {
		return nil, fmt.Errorf("the 3 servers agreed on no leader: %w", err)
	}
	restart := filepath.Join(dir, "restart-broker.sh")
	storm := "-restart-broker"
	var script string
	switch kind {
	case "nats":
		// Node n1, the first of central's list: central and a third of
		// the agents are on it.
		storm = "-kill-broker"
		script = fmt.Sprintf("#!/bin/sh\nkill -KILL $(cat %s/nats-n1.pid)\n", dir)
	case "mosquitto":
		script = fmt.Sprintf("#!/bin/sh\npid=$(cat %[1]s/mosquitto.pid)\nkill -TERM $pid\nwhile kill -0 $pid 2>/dev/null; do sleep 0.05; done\nmosquitto -c %[2]s -d\n", dir, mosqConf)
	default:
		// The agents' broker is a follower's embedded broker: restarting
		// the broker is restarting that server.
		for _, s := range servers {
			if s != leader {
				brokerURL = "tcp://" + s.mqtt
				script = fmt.Sprintf("#!/bin/sh\npid=$(cat %[1]s/%[2]s.pid)\nkill -TERM $pid\nwhile kill -0 $pid 2>/dev/null; do sleep 0.05; done\ncd %[1]s\nsetsid %[3]s %[4]s >>%[1]s/%[2]s.log 2>&1 </dev/null &\necho $! > %[1]s/%[2]s.pid\n",
					dir, s.name, bin, strings.Join(s.args, " "))
				break
			}
		}
	}
	if agentBrokers == nil {
		agentBrokers = []string{brokerURL}
	}
	if err := os.WriteFile(restart, []byte(script), 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "result.json")
	args := []string{"-agents", strconv.Itoa(n), "-heartbeat", beat.String(), "-duration", dur.String(),
		"-ttl", (ttl + grace).String(), storm, restart, "-failover", "-json", out, "-label", kind,
		"-churn", strconv.FormatFloat(churn, 'f', -1, 64), "-flap", strconv.FormatFloat(flap, 'f', -1, 64), "-connect-rate", strconv.Itoa(rate)}
	for _, b := range agentBrokers {
		args = append(args, "-broker", b)
	}
	for _, s := range servers {
		args = append(args, "-central", "http://"+s.http)
	}
	cmd := exec.Command(simBin, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("%s, %d: no results: %v (simulator: %v)", kind, n, err, runErr)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if runErr != nil {
		return &r, fmt.Errorf("%s, %d simulated agents: %v", kind, n, runErr)
	}
	return &r, nil
}

func startServer(bin, dir string, s *server) error {
	logf, err := os.OpenFile(filepath.Join(dir, s.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, s.args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go s.cmd.Wait() // reaped, so that kill -0 in the restart script sees it gone
	return os.WriteFile(filepath.Join(dir, s.name+".pid"), []byte(strconv.Itoa(s.cmd.Process.Pid)), 0o644)
}

func killPidFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

func waitPort(addr string) error {
	return sim.WaitFor(30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func readResults(path string) []Result {
	var rs []Result
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &rs)
	}
	return rs
}

func writeResults(path string, rs []Result) error {
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// mergeResult replaces the result of the same label and N, or adds r.
func mergeResult(rs []Result, r Result) []Result {
	for i := range rs {
		if rs[i].Label == r.Label && rs[i].Agents == r.Agents {
			rs[i] = r
			return rs
		}
	}
	return append(rs, r)
}

// startNATS starts a 3-node NATS cluster with JetStream and its MQTT
// listener (the configuration docs/nats.md gives, without logins) and
// returns the nodes' MQTT URLs, n1 first, and what stops them.
// consumers > 0 sets mqtt consumer_replicas, with the consumers in memory.
func startNATS(dir string, consumers int) ([]string, func(), error) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		return nil, func() {}, fmt.Errorf("nats broker kind: %w (Debian's nats-server package)", err)
	}
	type node struct{ name, client, route, mqtt, monitor string }
	var nodes []node
	var routes []string
	for i := range 3 {
		nd := node{name: fmt.Sprintf("n%d", i+1), client: freePort(), route: freePort(), mqtt: freePort(), monitor: freePort()}
		nodes = append(nodes, nd)
		routes = append(routes, "nats-route://"+nd.route)
	}
	var pids []string
	stop := func() {
		for _, p := range pids {
			killPidFile(p)
		}
	}
	var urls []string
	for _, nd := range nodes {
		conf := filepath.Join(dir, "nats-"+nd.name+".conf")
		extra := ""
		if consumers > 0 {
			extra = fmt.Sprintf("  consumer_replicas: %d\n  consumer_memory_storage: true\n", consumers)
		}
		text := fmt.Sprintf("server_name: %s\nlisten: %s\nhttp: %s\nmax_connections: 100000\njetstream { store_dir: %q }\ncluster {\n  name: tether\n  listen: %s\n  routes: [%s]\n}\nmqtt {\n  listen: %s\n  stream_replicas: 3\n%s}\n",
			nd.name, nd.client, nd.monitor, filepath.Join(dir, "js-"+nd.name), nd.route, strings.Join(routes, ", "), nd.mqtt, extra)
		if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
			return nil, stop, err
		}
		logf, err := os.Create(filepath.Join(dir, "nats-"+nd.name+".log"))
		if err != nil {
			return nil, stop, err
		}
		cmd := exec.Command(bin, "-c", conf)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return nil, stop, fmt.Errorf("start nats %s: %w", nd.name, err)
		}
		go cmd.Wait()
		pidFile := filepath.Join(dir, "nats-"+nd.name+".pid")
		pids = append(pids, pidFile)
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return nil, stop, err
		}
		urls = append(urls, "tcp://"+nd.mqtt)
	}
	for _, nd := range nodes {
		if err := sim.WaitFor(60*time.Second, func() bool {
			var health struct {
				Status string `json:"status"`
			}
			return sim.GetJSON("http://"+nd.monitor+"/healthz", &health) == nil && health.Status == "ok"
		}); err != nil {
			return nil, stop, fmt.Errorf("nats %s not healthy: %w", nd.name, err)
		}
		if err := waitPort(nd.mqtt); err != nil {
			return nil, stop, fmt.Errorf("nats %s MQTT listener: %w", nd.name, err)
		}
	}
	return urls, stop, nil
}
