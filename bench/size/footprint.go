package main

import (
	"encoding/json"
	"fmt"
	"github.com/tether-edge/tether/agent/session"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tether-edge/tether/bench/internal/sim"
	"github.com/tether-edge/tether/protocol"
)

// ipOverhead is what one TCP segment costs on the wire besides its
// payload: IPv4 (20) + TCP (20) + the timestamps option (12), as Linux
// sends by default. Link-layer framing is not counted.
const ipOverhead = 52

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(name string, out io.Writer, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// proxy forwards one agent's MQTT connection to the broker and keeps the
// agent-side socket for TCP_INFO.
type proxy struct {
	ln     net.Listener
	broker string
	mu     sync.Mutex // guards conn
	conn   *net.TCPConn
}

func newProxy(broker string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, broker: broker}
	go p.serve()
	return p, nil
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.broker)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conn = c.(*net.TCPConn)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

type wire struct {
	segsIn, segsOut   uint32
	bytesIn, bytesOut uint64
}

func (p *proxy) info() (wire, error) {
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	if c == nil {
		return wire{}, fmt.Errorf("agent never connected through the proxy")
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return wire{}, err
	}
	var ti *unix.TCPInfo
	var serr error
	raw.Control(func(fd uintptr) { ti, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if serr != nil {
		return wire{}, serr
	}
	return wire{segsIn: ti.Segs_in, segsOut: ti.Segs_out, bytesIn: ti.Bytes_received, bytesOut: ti.Bytes_acked}, nil
}

func waitReady(httpAddr string, names ...string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var nodes []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		}
		resp, err := http.Get("http://" + httpAddr + "/v1/nodes")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&nodes)
			resp.Body.Close()
		}
		ready := 0
		for _, n := range nodes {
			for _, want := range names {
				if n.Name == want && n.Status == "ready" {
					ready++
				}
			}
		}
		if ready == len(names) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("nodes %v not ready after 2m", names)
}

// rss reads VmRSS, RssAnon and RssFile of pid in KiB.
func rss(pid int) (total, anon, file int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "VmRSS:":
			total = n
		case "RssAnon:":
			anon = n
		case "RssFile:":
			file = n
		}
	}
	return
}

// guestRSS estimates the emulated agent's own resident memory inside a
// qemu-user process: the pages of the agent binary's mappings plus the
// anonymous mappings below qemu's own (guest_base is 0 for a 64-bit guest
// on x86-64: guest addresses are host addresses, qemu's brk heap and
// libraries sit at 0x5555... and 0x7f..., its translation cache too).
func guestRSS(pid int, bin string) (binKB, anonKB int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return
	}
	abs, _ := filepath.Abs(bin)
	var name string
	var start uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.Contains(f[0], "-") && len(f) >= 5 {
			lo, _, _ := strings.Cut(f[0], "-")
			start, _ = strconv.ParseUint(lo, 16, 64)
			name = ""
			if len(f) >= 6 {
				name = f[5]
			}
			continue
		}
		if f[0] != "Rss:" {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch {
		case name == abs:
			binKB += n
		case name == "" && start < 0x555500000000:
			anonKB += n
		}
	}
	return
}

func runtimeFootprint(centralBin, agentBin, arm64Bin string, window, hb time.Duration) error {
	dir, err := os.MkdirTemp("", "tether-size-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logs, _ := os.Create(filepath.Join(dir, "log"))
	defer logs.Close()
	httpAddr, mqttAddr := sim.FreeAddr(), sim.FreeAddr()
	c, err := startProc(centralBin, logs, "server", "-data-dir", filepath.Join(dir, "central"), "-http", httpAddr,
		"-raft", sim.FreeAddr(), "-mqtt", mqttAddr)
	if err != nil {
		return err
	}
	defer c.stop()

	px, err := newProxy(mqttAddr)
	if err != nil {
		return err
	}
	agentArgs := func(name string, broker string) []string {
		return []string{"-name", name, "-datacenter", "dc1", "-broker", "tcp://" + broker,
			"-data-dir", filepath.Join(dir, name), "-heartbeat", hb.String(), "-log-level", "warn"}
	}
	native, err := startProc(agentBin, logs, agentArgs("native", px.ln.Addr().String())...)
	if err != nil {
		return err
	}
	defer native.stop()
	names := []string{"native"}

	var emu *proc
	qemu, qerr := exec.LookPath("qemu-aarch64-static")
	if _, err := os.Stat(arm64Bin); qerr == nil && err == nil {
		if emu, err = startProc(qemu, logs, append([]string{arm64Bin}, agentArgs("arm64", mqttAddr)...)...); err != nil {
			return err
		}
		defer emu.stop()
		names = append(names, "arm64")
	}
	if err := waitReady(httpAddr, names...); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		return fmt.Errorf("%v\n%s", err, b)
	}
	// Simulated agents (started once the broker is up): the same heartbeats with the MQTT keepalive (and
	// heartbeat shape) a board could use instead.
	type simRun struct {
		label string
		px    *proxy
		w0    wire
	}
	var sims []*simRun
	for _, v := range []struct {
		label    string
		ka       time.Duration
		withBoot bool
	}{
		{"simulated: keepalive 30s (the agent's keepalive before it moved to 120s)", 30 * time.Second, true},
		{"simulated: keepalive 120s", 120 * time.Second, true},
		{"simulated: keepalive 120s, heartbeat without Boot", 120 * time.Second, false},
	} {
		spx, err := newProxy(mqttAddr)
		if err != nil {
			return err
		}
		sim, err := startSim(spx.ln.Addr().String(), fmt.Sprintf("00000000-0000-4000-8000-%012d", len(sims)), v.ka, hb, v.withBoot)
		if err != nil {
			return err
		}
		defer sim.close()
		sims = append(sims, &simRun{label: v.label, px: spx})
	}
	time.Sleep(5 * time.Second) // let hello, subscriptions and retained desired settle
	w0, err := px.info()
	if err != nil {
		return err
	}
	for _, sr := range sims {
		if sr.w0, err = sr.px.info(); err != nil {
			return err
		}
	}
	time.Sleep(window)
	w1, err := px.info()
	if err != nil {
		return err
	}

	fmt.Printf("## Idle RSS after connecting (goal <= %.0f MiB), after %s idle\n\n", goalRSSMiB, window)
	fmt.Printf("| agent | RSS MiB | anonymous (heap, stacks) | file-backed (binary pages, clean) | goal |\n|---|---|---|---|---|\n")
	tot, anon, file := rss(native.cmd.Process.Pid)
	fmt.Printf("| amd64, native | %.1f | %.1f | %.1f | %s |\n", mib(tot), mib(anon), mib(file), verdict(mib(tot) <= goalRSSMiB))
	if emu != nil {
		qt, _, _ := rss(emu.cmd.Process.Pid)
		bin, an := guestRSS(emu.cmd.Process.Pid, arm64Bin)
		fmt.Printf("| arm64 under qemu-aarch64-static: guest pages only | %.1f | %.1f | %.1f | %s |\n", mib(bin+an), mib(an), mib(bin), verdict(mib(bin+an) <= goalRSSMiB))
		fmt.Printf("| (the whole qemu process, translator and its cache included) | %.1f | | | - |\n", mib(qt))
	}
	fmt.Println()

	mins := window.Minutes()
	segsIn, segsOut := float64(w1.segsIn-w0.segsIn), float64(w1.segsOut-w0.segsOut)
	bIn, bOut := float64(w1.bytesIn-w0.bytesIn), float64(w1.bytesOut-w0.bytesOut)
	ip := bIn + bOut + ipOverhead*(segsIn+segsOut)
	hbPayload, _ := protocol.Encode(&protocol.Heartbeat{V: protocol.Version, Seq: 1234, Time: time.Now().UnixMilli(), Boot: time.Now().UnixMilli(), SoCTemp: 483})
	topic := protocol.Topics{}.Heartbeat("00000000-0000-4000-8000-000000000000")
	rem := 2 + len(topic) + len(hbPayload)
	mqttHB := 1 + varintLen(rem) + rem
	fmt.Printf("## Bytes on the wire, idle agent (heartbeat %s, MQTT keepalive %s, QoS 0 heartbeats)\n\n", hb, session.DefaultKeepAlive)
	fmt.Printf("| what | value |\n|---|---|\n")
	fmt.Printf("| heartbeat payload (CBOR, with SoC temperature) | %d B |\n", len(hbPayload))
	fmt.Printf("| heartbeat MQTT PUBLISH (topic %d B) | %d B |\n", len(topic), mqttHB)
	fmt.Printf("| heartbeat at the IP level (+%d B headers, + the broker's %d B ACK) | %d B |\n", ipOverhead, ipOverhead, mqttHB+2*ipOverhead)
	fmt.Printf("| measured over %s: segments agent→broker / broker→agent | %.0f / %.0f |\n", window, segsIn, segsOut)
	fmt.Printf("| measured: TCP payload agent→broker / broker→agent | %.0f B / %.0f B |\n", bIn, bOut)
	fmt.Printf("| **idle bytes per minute per agent, IP level** | **%.0f B** (goal <= %d: %s) |\n", ip/mins, goalIdleBytes, verdict(ip/mins <= goalIdleBytes))
	fmt.Printf("| failure detection (central TTL 15s + grace 5s after the last heartbeat) | <= 20 s |\n\n")
	fmt.Printf("| idle traffic per agent (heartbeat %s) | segments/min | IP bytes/min | goal <= %d |\n|---|---|---|---|\n", hb, goalIdleBytes)
	fmt.Print(simRow("agent (measured above)", w0, w1, window))
	for _, sr := range sims {
		w, err := sr.px.info()
		if err != nil {
			return err
		}
		fmt.Print(simRow(sr.label, sr.w0, w, window))
	}
	fmt.Println()
	return nil
}

func mib(kb int) float64 { return float64(kb) / 1024 }

func varintLen(n int) int {
	l := 1
	for n >= 128 {
		n /= 128
		l++
	}
	return l
}
