package test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/tether-edge/tether/protocol"
)

// execJob runs two exec tasks that sleep; main has EXEC_PROBE in its env.
func execJob(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shell.hcl")
	src := `job "shell" {
  datacenters = ["dc1"]
  group "g" {
    task "main" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do sleep 1; done"]
      }
      env {
        EXEC_PROBE = "from-the-task"
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
    task "side" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "while true; do sleep 1; done"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ptyCLI is the central CLI running on a pseudo-terminal.
type ptyCLI struct {
	cmd  *exec.Cmd
	ptmx *os.File
	out  *syncBuffer
	done chan struct{}
}

func (c *cluster) cliPTY(token string, args ...string) *ptyCLI {
	c.t.Helper()
	cmd := exec.Command(bins.central, args...)
	cmd.Env = []string{"CENTRAL_ADDR=http://" + c.http, "TERM=xterm", "PATH=" + os.Getenv("PATH")}
	if token != "" {
		cmd.Env = append(cmd.Env, "CENTRAL_TOKEN="+token)
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		c.t.Fatal(err)
	}
	p := &ptyCLI{cmd: cmd, ptmx: ptmx, out: &syncBuffer{}, done: make(chan struct{})}
	go func() { _, _ = io.Copy(p.out, ptmx) }()
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		ptmx.Close()
	})
	return p
}

func (p *ptyCLI) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := p.ptmx.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (p *ptyCLI) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("the CLI did not exit; its terminal shows:\n%s", p.out.String())
		return -1
	}
}

// alloc exec end to end, with ACLs on: refused without alloc-exec before
// anything reaches the agent; -task needed for a group of two; a command
// without a terminal gets its output and exit code back; with -i -t a
// shell on a terminal echoes what is typed, sees the task's environment
// and the CLI exits with the shell's exit code; ~. closes a session; each
// session is in central's audit log.
func TestAllocExec(t *testing.T) {
	c := startCentral(t, clusterOpts{acl: true})
	out, code := c.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	c.token = secretID(t, out)
	policy := filepath.Join(t.TempDir(), "no-exec.hcl")
	if err := os.WriteFile(policy, []byte("namespace \"*\" {\n  policy = \"read\"\n  capabilities = [\"submit-job\", \"read-logs\", \"alloc-lifecycle\"]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("acl", "policy", "apply", "no-exec", policy); code != 0 {
		t.Fatalf("acl policy apply exited %d:\n%s", code, out)
	}
	out, code = c.cli("acl", "token", "create", "-name", "no-exec", "-policy", "no-exec")
	if code != 0 {
		t.Fatalf("acl token create exited %d:\n%s", code, out)
	}
	noExec := secretID(t, out)

	agent := c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", execJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	as := c.waitRunning("shell", 1, 30*time.Second)
	short := as[0].ID[:8]

	// Without alloc-exec: 403, and the agent hears nothing of it.
	out, code = c.cliToken(noExec, "alloc", "exec", "-i=false", "-task", "main", short, "touch", "/tmp/never")
	if code == 0 || !strings.Contains(out, "403") || !strings.Contains(out, `"alloc-exec"`) {
		t.Fatalf("alloc exec with a token lacking alloc-exec exited %d:\n%s", code, out)
	}
	if log := agent.out.String(); strings.Contains(log, "exec session") || strings.Contains(log, "exec request") {
		t.Fatalf("a refused exec reached the agent:\n%s", agent.out.String())
	}

	// Two tasks: -task is needed.
	out, code = c.cli("alloc", "exec", "-i=false", short, "true")
	if code == 0 || !strings.Contains(out, "several tasks (main, side)") || !strings.Contains(out, "-task") {
		t.Fatalf("alloc exec without -task exited %d:\n%s", code, out)
	}

	// No terminal: output and exit code.
	out, code = c.cli("alloc", "exec", "-i=false", "-task", "main", short, "echo", "hi")
	if code != 0 || out != "hi\n" {
		t.Fatalf("alloc exec echo hi exited %d: %q", code, out)
	}
	out, code = c.cli("alloc", "exec", "-i=false", "-task", "main", short, "sh", "-c", "echo $EXEC_PROBE; echo oops >&2; exit 5")
	if code != 5 || !strings.Contains(out, "from-the-task\n") || !strings.Contains(out, "oops\n") {
		t.Fatalf("alloc exec exited %d, want 5:\n%s", code, out)
	}

	// -job picks the job's running allocation.
	out, code = c.cli("alloc", "exec", "-job", "-i=false", "-task", "main", "shell", "echo", "via-job")
	if code != 0 || out != "via-job\n" {
		t.Fatalf("alloc exec -job exited %d: %q", code, out)
	}

	// Megabytes each way: chunked, within the credits, nothing lost.
	began := time.Now()
	out, code = c.cli("alloc", "exec", "-i=false", "-task", "main", short, "sh", "-c", `head -c 3000000 /dev/zero | tr '\0' x`)
	if code != 0 || len(out) != 3_000_000 || strings.Trim(out, "x") != "" {
		t.Fatalf("3 MB of output: exit %d, %d bytes", code, len(out))
	}
	t.Logf("3 MB of output in %s (the CLI's start included)", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	big := exec.Command(bins.central, "alloc", "exec", "-task", "main", short, "sh", "-c", "wc -c")
	big.Env = []string{"CENTRAL_ADDR=http://" + c.http, "CENTRAL_TOKEN=" + c.token, "PATH=" + os.Getenv("PATH")}
	big.Stdin = strings.NewReader(strings.Repeat("y", 2_000_000))
	if b, err := big.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "2000000" {
		t.Fatalf("2 MB of stdin: %v: %q", err, b)
	}
	t.Logf("2 MB of stdin in %s (the CLI's start included)", time.Since(began).Round(time.Millisecond))

	// A shell on a terminal.
	p := c.cliPTY(c.token, "alloc", "exec", "-i", "-t", "-task", "main", short, "sh")
	p.typeLine(t, "echo sum=$((40+2)) $EXEC_PROBE; tty\r")
	eventually(t, 20*time.Second, func() error {
		if s := p.out.String(); !strings.Contains(s, "sum=42 from-the-task") || !strings.Contains(s, "/dev/pts/") || !strings.Contains(s, "echo sum=$((40+2))") {
			return fmt.Errorf("terminal shows %q", s)
		}
		return nil
	})
	p.typeLine(t, "exit 3\r")
	if code := p.wait(t, 20*time.Second); code != 3 {
		t.Fatalf("alloc exec -i -t exited %d, want 3; terminal:\n%s", code, p.out.String())
	}

	// ~. at the start of a line closes the session; the command is killed.
	p = c.cliPTY(c.token, "alloc", "exec", "-t", "-task", "main", short, "sh", "-c", "echo ready; sleep 600")
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(p.out.String(), "ready") {
			return fmt.Errorf("terminal shows %q", p.out.String())
		}
		return nil
	})
	p.typeLine(t, "\r~.")
	p.wait(t, 20*time.Second)
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(agent.out.String(), "exec session closed by the operator") {
			return fmt.Errorf("the agent did not end the session")
		}
		return nil
	})

	// The audit log: who, what, how it ended.
	eventually(t, 10*time.Second, func() error {
		log := c.central.out.String()
		for _, want := range []string{"exec session started", "exec session ended", `by="token \"Bootstrap Token\"`, "task=main", "exit_code=3", "tty=true", "bytes_in=", "bytes_out="} {
			if !strings.Contains(log, want) {
				return fmt.Errorf("central's log lacks %q", want)
			}
		}
		return nil
	})
}

// A wasm task cannot be exec'd into: central says so and what to do.
func TestAllocExecWasmRefused(t *testing.T) {
	module := buildWasm(t, "sleep")
	c := startCentral(t, clusterOpts{})
	c.startAgent("edge-1")
	c.waitNode("edge-1", "ready", 20*time.Second)
	job := filepath.Join(t.TempDir(), "w.hcl")
	if err := os.WriteFile(job, []byte(fmt.Sprintf(`job "w" {
  datacenters = ["dc1"]
  group "g" {
    task "guest" {
      driver = "wasm"
      config {
        module = %q
      }
    }
  }
}
`, module)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	as := c.waitRunning("w", 1, 30*time.Second)
	out, code := c.cli("alloc", "exec", "-i=false", as[0].ID[:8], "sh")
	if code == 0 || !strings.Contains(out, "wasm driver, which cannot run other commands") || !strings.Contains(out, "central alloc logs") || !strings.Contains(out, "central alloc restart") {
		t.Fatalf("alloc exec into a wasm task exited %d:\n%s", code, out)
	}
}

// alloc exec into a Podman task: a shell on a terminal inside the
// container, its exit code; a command without a terminal.
func TestPodmanAllocExec(t *testing.T) {
	c, _, image := startPodmanEdge(t)
	job := filepath.Join(t.TempDir(), "pod.hcl")
	if err := os.WriteFile(job, []byte(fmt.Sprintf(`job "podshell" {
  datacenters = ["dc1"]
  group "g" {
    task "c" {
      driver = "podman"
      config {
        image   = %q
        command = "sh"
        args    = ["-c", "while true; do sleep 1; done"]
      }
      env {
        EXEC_PROBE = "in-the-container"
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
`, image)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := c.cli("job", "submit", job); code != 0 {
		t.Fatalf("submit exited %d:\n%s", code, out)
	}
	short := c.waitRunning("podshell", 1, 60*time.Second)[0].ID[:8]

	out, code := c.cli("alloc", "exec", "-i=false", short, "echo", "hi")
	if code != 0 || out != "hi\n" {
		t.Fatalf("alloc exec echo hi exited %d: %q", code, out)
	}
	p := c.cliPTY("", "alloc", "exec", "-i", "-t", short, "sh")
	p.typeLine(t, "echo sum=$((40+2)) $EXEC_PROBE\r")
	eventually(t, 20*time.Second, func() error {
		if s := p.out.String(); !strings.Contains(s, "sum=42 in-the-container") || !strings.Contains(s, "echo sum=$((40+2))") {
			return fmt.Errorf("terminal shows %q", s)
		}
		return nil
	})
	p.typeLine(t, "exit 3\r")
	if code := p.wait(t, 20*time.Second); code != 3 {
		t.Fatalf("alloc exec -i -t exited %d, want 3; terminal:\n%s", code, p.out.String())
	}
}

// alloc exec through a follower: it redirects to the leader, which holds
// the broker connection; the CLI follows.
func TestHAExecThroughAFollower(t *testing.T) {
	h, follower, id := execAllocBehindFollower(t, "sh", `exec sleep 300`)
	eventually(t, 20*time.Second, func() error {
		out, code := h.cli(follower, "alloc", "exec", "-i=false", id, "sh", "-c", "echo through-$((1+1)); exit 4")
		if code != 4 || out != "through-2\n" {
			return fmt.Errorf("alloc exec through %s exited %d: %q", follower.name, code, out)
		}
		return nil
	})
}

// A compromised site broker cannot run a command on a device through the
// exec topics: the agent is enrolled (central's key pinned), and an
// attacker with full broker access (the embedded broker is anonymous here)
// publishes an unsigned request, replays and tampers with a genuine one it
// captured, and types into a live session. Nothing runs; the agent counts
// and logs each refusal; the operator's session sees only its own input.
func TestExecAttacksOnTheBroker(t *testing.T) {
	c := startCentral(t, clusterOpts{})
	out, code := c.cli("node", "join-token", "create", "-ttl", "1h")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("join-token create (exit %d): %s", code, out)
	}
	agent := c.startAgent("edge", "-join-token", m[1], "-central", "http://"+c.http)
	n := c.waitNode("edge", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", execJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	allocID := c.waitRunning("shell", 1, 30*time.Second)[0].ID

	// The attacker listens to the node's exec requests.
	tp := protocol.Topics{}
	atk := paho.NewClient(paho.NewClientOptions().AddBroker(c.broker).SetClientID("attacker"))
	if tok := atk.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer atk.Disconnect(0)
	captured := make(chan []byte, 8)
	if tok := atk.Subscribe(tp.Exec(n.ID), 1, func(_ paho.Client, msg paho.Message) { captured <- append([]byte(nil), msg.Payload()...) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	// A genuine session, captured on the way.
	if out, code := c.cli("alloc", "exec", "-i=false", "-task", "main", allocID, "true"); code != 0 {
		t.Fatalf("genuine alloc exec exited %d:\n%s", code, out)
	}
	var genuine []byte
	select {
	case genuine = <-captured:
	case <-time.After(10 * time.Second):
		t.Fatal("the attacker saw no exec request on the broker")
	}
	var req protocol.ExecRequest
	if err := protocol.Decode(genuine, &req); err != nil {
		t.Fatal(err)
	}

	marker := filepath.Join(t.TempDir(), "pwned")
	touch := []string{"sh", "-c", "touch " + marker}
	unsigned := protocol.ExecRequest{V: protocol.Version, Session: "evil-1", NodeID: n.ID, AllocID: allocID, Task: "main",
		Command: touch, Expires: time.Now().Add(20 * time.Second).UnixMilli()}
	tampered := req
	tampered.Session, tampered.Command = "evil-2", touch
	for _, msg := range []*protocol.ExecRequest{&unsigned, &tampered} {
		b, _ := protocol.Encode(msg)
		atk.Publish(tp.Exec(n.ID), 1, false, b).Wait()
	}
	atk.Publish(tp.Exec(n.ID), 1, false, genuine).Wait() // replayed
	eventually(t, 20*time.Second, func() error {
		log := agent.out.String()
		if got := strings.Count(log, "exec request refused: not signed"); got != 2 {
			return fmt.Errorf("%d requests refused as not signed, want 2", got)
		}
		if !strings.Contains(log, "exec request refused: replayed") {
			return fmt.Errorf("the replay was not refused")
		}
		return nil
	})

	// A live session: the attacker types into it.
	cmd := exec.Command(bins.central, "alloc", "exec", "-task", "main", allocID, "sh", "-c", `while read l; do echo "in:$l"; done`)
	cmd.Env = []string{"CENTRAL_ADDR=http://" + c.http, "PATH=" + os.Getenv("PATH")}
	stdin, _ := cmd.StdinPipe()
	sess := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = sess, sess
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var live protocol.ExecRequest
	select {
	case b := <-captured:
		if err := protocol.Decode(b, &live); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the attacker saw no second exec request")
	}
	fmt.Fprintln(stdin, "mine")
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(sess.String(), "in:mine") {
			return fmt.Errorf("session shows %q", sess.String())
		}
		return nil
	})
	for seq := uint64(1); seq <= 50; seq += 7 { // guesses at the next number
		b, _ := protocol.Encode(&protocol.ExecIn{V: protocol.Version, Session: live.Session, Seq: seq, Stdin: []byte("injected; touch " + marker + "\n")})
		atk.Publish(tp.ExecIn(n.ID, live.Session), 1, false, b).Wait()
	}
	eventually(t, 20*time.Second, func() error {
		if got := strings.Count(agent.out.String(), "exec input frame dropped: not signed"); got != 8 {
			return fmt.Errorf("%d injected frames dropped, want 8", got)
		}
		return nil
	})
	fmt.Fprintln(stdin, "mine-again")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the operator's session ended with %v:\n%s", err, sess.String())
	}
	if s := sess.String(); s != "in:mine\nin:mine-again\n" {
		t.Fatalf("the operator's session shows %q", s)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an attacker's command ran on the device")
	}
}

// alloc exec over TLS with client certificates: the CLI dials wss:// with
// its CA and certificate (CENTRAL_CACERT, CENTRAL_CLIENT_CERT).
func TestAllocExecTLS(t *testing.T) {
	f := makeTLSFiles(t, t.TempDir())
	c := startTLSCentral(t, f, "", "-tls-verify-client")
	c.startAgent("tls-x", f.agentArgs(true)...)
	c.waitNodeReady("tls-x", 15*time.Second)
	if out, code := c.cli(c.cliEnv(true), "job", "submit", echoJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	c.waitAllocRunning("echo", 15*time.Second)
	out, code := c.cli(c.cliEnv(true), "alloc", "exec", "-job", "-i=false", "echo", "sh", "-c", "echo over-tls; exit 2")
	if code != 2 || out != "over-tls\n" {
		t.Fatalf("alloc exec over TLS exited %d: %q", code, out)
	}
	out, code = c.cli(c.cliEnv(false), "alloc", "exec", "-job", "-i=false", "echo", "true")
	if code == 0 || !strings.Contains(out, "CENTRAL_CLIENT_CERT") {
		t.Fatalf("alloc exec without the client certificate exited %d:\n%s", code, out)
	}
}

// With the embedded broker's per-node logins (-mqtt-auth), an enrolled
// agent may read its exec topics and write its sessions' output.
func TestAllocExecWithBrokerAuth(t *testing.T) {
	c, token := startAuthCentral(t)
	c.startAgent("edge", "-join-token", token, "-central", "http://"+c.http)
	c.waitNode("edge", "ready", 20*time.Second)
	if out, code := c.cli("job", "submit", execJob(t)); code != 0 {
		t.Fatalf("job submit exited %d:\n%s", code, out)
	}
	short := c.waitRunning("shell", 1, 30*time.Second)[0].ID[:8]
	out, code := c.cli("alloc", "exec", "-i=false", "-task", "side", short, "echo", "authorised")
	if code != 0 || out != "authorised\n" {
		t.Fatalf("alloc exec exited %d: %q", code, out)
	}
}
