package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/test/partition"
)

// The edge tutorial, replayed: three servers and a dc1 agent at the
// primary site, a site broker and two dc2 agents at the edge, each in a
// network namespace of its own (the host routes between them, like the
// WAN between the tutorial's two regions), the edge shop on both sites,
// then the tutorial's drills: cut an edge agent off with iptables, bring it
// back, kill the leader, stop all of central for a minute. `make
// demo-edge` runs it with TETHER_DEMO=1, which prints the steps for a
// person; `make test` runs it as a test.
//
//	namespace    runs                                   reached as
//	primary      central s1 s2 s3, Mosquitto (dc1)      primary:7600/7610/7620, primary:1883
//	dc1-client   agent dc1-client (db, product-api)     advertises dc1-client
//	edge-site    Mosquitto (dc2's site broker)          edge-site:1883
//	edge-1/-2    agents edge-1, edge-2 (shop-edge)      advertise edge-N, proxy on :8080

// outageFor is how long step 8 keeps all of central stopped.
const outageFor = time.Minute

// siteBroker is a site's Mosquitto and the dir of its auth files.
type siteBroker struct {
	dir string
	p   *proc
}

type tutorial struct {
	*cluster
	t       *testing.T
	demo    bool
	begin   time.Time
	servers []*haServer
	ns      map[string]*partition.Netns
	shopBin string
	shopDir string
	brokers []siteBroker
	user    string // the client token (the tutorial's read + submit-job policy)
	summary []string
}

func TestTutorialReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("the tutorial replay takes minutes")
	}
	_, shopBin := buildEdgeShop(t)
	root, _ := repoRoot()
	tu := &tutorial{t: t, demo: os.Getenv("TETHER_DEMO") == "1", begin: time.Now(),
		ns: map[string]*partition.Netns{}, shopBin: shopBin, shopDir: filepath.Join(root, "examples", "edge-shop")}
	tu.topology()

	tu.step(1, "ACL bootstrap, the tutorial's policy, a client and a management token, the UI")
	tu.acls()
	tu.step(2, "server members and node status")
	tu.members()
	tu.step(3, "submit shop.hcl (dc1) and shop-edge.hcl (dc2)")
	tu.submit()
	tu.step(4, "service discovery and the shop through the proxy")
	orderID := tu.shop()
	tu.step(5, "cut the edge agent running shop-edge off with iptables")
	original, replacement, cut := tu.cut()
	tu.step(6, "restore the link")
	tu.restore(original, replacement, cut)
	tu.step(7, "kill the leader server")
	tu.killLeader(original)
	tu.step(8, fmt.Sprintf("stop all of central for %v", outageFor))
	tu.centralOutage(original, orderID)

	line := fmt.Sprintf("tutorial replay: 8 steps passed in %v; %s", time.Since(tu.begin).Round(100*time.Millisecond), strings.Join(tu.summary, "; "))
	tu.say("%s", line)
}

// say reports progress: on stdout for a person (TETHER_DEMO=1), in the
// test log otherwise.
func (tu *tutorial) say(format string, args ...any) {
	tu.t.Helper()
	msg := fmt.Sprintf("[%6.1fs] ", time.Since(tu.begin).Seconds()) + fmt.Sprintf(format, args...)
	if tu.demo {
		fmt.Println(msg)
		return
	}
	tu.t.Log(msg)
}

func (tu *tutorial) step(n int, title string) {
	tu.t.Helper()
	tu.say("== step %d: %s", n, title)
}

// measure records a timing for the summary line.
func (tu *tutorial) measure(what string, d time.Duration) {
	tu.summary = append(tu.summary, fmt.Sprintf("%s %v", what, d.Round(10*time.Millisecond)))
	tu.say("   %s: %v", what, d.Round(10*time.Millisecond))
}

// topology makes the namespaces and starts both brokers, the three
// servers and the three agents.
func (tu *tutorial) topology() {
	t := tu.t
	for _, name := range []string{"primary", "dc1-client", "edge-site", "edge-1", "edge-2"} {
		ns, err := partition.NewNetns(t, name)
		if err != nil {
			t.Fatalf("namespace %s: %v", name, err)
		}
		tu.ns[name] = ns
	}
	forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil || strings.TrimSpace(string(forward)) != "1" {
		t.Fatalf("the sites reach each other through the host, which does not forward IPv4 (%q, %v): sysctl -w net.ipv4.ip_forward=1", forward, err)
	}
	primary, site := tu.ns["primary"].Addr(), tu.ns["edge-site"].Addr()
	tu.startMosquittoIn(tu.ns["primary"])
	tu.startMosquittoIn(tu.ns["edge-site"])

	dir := t.TempDir()
	for i := range 3 {
		tu.servers = append(tu.servers, &haServer{
			name: fmt.Sprintf("s%d", i+1),
			http: fmt.Sprintf("%s:%d", primary, 7600+10*i),
			raft: fmt.Sprintf("%s:%d", primary, 7601+10*i),
		})
	}
	for _, s := range tu.servers {
		s.args = []string{"server", "-name", s.name, "-data-dir", filepath.Join(dir, s.name),
			"-http", s.http, "-raft", s.raft, "-bootstrap-expect", "3", "-acl", "-join-secret", "shop-servers-join-secret", "-mqtt-auth",
			"-broker", "tcp://" + primary + ":1883", "-site", "dc2=tcp://" + site + ":1883",
			"-heartbeat-ttl", "3s", "-heartbeat-grace", "2s"}
		for _, o := range tu.servers {
			if o != s {
				s.args = append(s.args, "-join", o.http)
			}
		}
		tu.startServer(s)
	}
	tu.cluster = &cluster{t: t, dir: dir, agents: map[string]*proc{}, http: tu.servers[0].http, central: tu.servers[0].p}
	leader := tu.waitLeader(30 * time.Second)
	tu.say("3 servers up, leader %s; Mosquitto at both sites refusing anonymous clients", leader.name)
}

func (tu *tutorial) startServer(s *haServer) {
	cmd := tu.ns["primary"].Command(bins.central, s.args...)
	s.p = startCmd(tu.t, "central "+s.name, cmd)
}

// startMosquittoIn runs Mosquitto on port 1883 of the namespace's address,
// with allow_anonymous false and the password and ACL files of a dir that
// `central mqtt export-auth` fills later (Mosquitto reloads them on
// SIGHUP).
func (tu *tutorial) startMosquittoIn(ns *partition.Netns) {
	t := tu.t
	bin := requireTool(t, "mosquitto", "/usr/sbin/mosquitto")
	dir := mosquittoDir(t, "tether-tutorial-mqtt-")
	pw, acl := filepath.Join(dir, "password_file"), filepath.Join(dir, "acl_file")
	os.WriteFile(pw, nil, 0o600)
	os.WriteFile(acl, nil, 0o600)
	chownMosquitto(t, dir)
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener 1883 %s\nallow_anonymous false\npassword_file %s\nacl_file %s\npersistence false\nmax_packet_size 1048576\n",
		ns.Addr(), pw, acl)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startCmd(t, "mosquitto in "+ns.Name(), ns.Command(bin, "-c", conf))
	tu.brokers = append(tu.brokers, siteBroker{dir: dir, p: p})
	waitListening(t, ns.Addr()+":1883")
}

// exportAuth writes central's broker logins and topic rules into every
// site broker's files and has Mosquitto reload them: the operator's step
// after enrolling nodes (docs/security.md).
func (tu *tutorial) exportAuth() {
	for _, b := range tu.brokers {
		if out, code := tu.cli("mqtt", "export-auth", "-dir", b.dir); code != 0 {
			tu.t.Fatalf("mqtt export-auth exited %d:\n%s", code, out)
		}
		chownMosquitto(tu.t, b.dir)
		b.p.cmd.Process.Signal(syscall.SIGHUP)
	}
}

// startAgentIn runs an agent in the namespace of its name, advertising the
// namespace's address, enrolling with the join token at the first server.
func (tu *tutorial) startAgentIn(name, dc, broker, joinToken string) {
	ns := tu.ns[name]
	cmd := ns.Command(bins.agent, "-name", name, "-datacenter", dc, "-broker", broker,
		"-data-dir", filepath.Join(tu.dir, "agent-"+name), "-heartbeat", "1s", "-advertise", ns.Addr(),
		"-join-token", joinToken, "-central", "http://"+tu.servers[0].http)
	p := startCmd(tu.t, "agent "+name, cmd)
	tu.agents[name] = p
	tu.t.Cleanup(func() {
		tu.stopAllJobs(15 * time.Second)
		killChildGroups(p.cmd.Process.Pid)
	})
}

// waitLeader waits until every live server names the same live leader,
// points the cluster's client at a live server, and returns the leader.
func (tu *tutorial) waitLeader(timeout time.Duration) *haServer {
	tu.t.Helper()
	var leader *haServer
	eventually(tu.t, timeout, func() error {
		names := map[string]bool{}
		var live []*haServer
		for _, s := range tu.servers {
			if s.p.exited() {
				continue
			}
			live = append(live, s)
			var addr string
			if err := getJSON("http://"+s.http+"/v1/status/leader", &addr); err != nil {
				return err
			}
			names[addr] = true
		}
		if len(names) != 1 || names[""] {
			return fmt.Errorf("servers do not agree on a leader: %v", names)
		}
		for _, s := range live {
			if names[s.http] {
				leader = s
				tu.http, tu.central = live[0].http, live[0].p
				return nil
			}
		}
		return fmt.Errorf("the leader named is not a live server: %v", names)
	})
	return leader
}

// getUI fetches a UI page with the token as the UI's cookie ("" = none).
func (tu *tutorial) getUI(path, token string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+tu.http+path, nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "tether_token", Value: token})
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		tu.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (tu *tutorial) acls() {
	t := tu.t
	out, code := tu.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	boot := secretID(t, out)
	policy := filepath.Join(t.TempDir(), "nomad-acl-user.hcl")
	os.WriteFile(policy, []byte(tutorialACLPolicy), 0o644)
	out, code = tu.cliToken(boot, "acl", "policy", "apply", "-description",
		"Policy to allow reading of agents and nodes and listing and submitting jobs in all namespaces.", "node-read-job-submit", policy)
	if code != 0 || !strings.Contains(out, `Successfully wrote "node-read-job-submit" ACL policy!`) {
		t.Fatalf("acl policy apply exited %d:\n%s", code, out)
	}
	out, code = tu.cliToken(boot, "acl", "token", "create", "-name", "read-token", "-policy", "node-read-job-submit")
	if code != 0 {
		t.Fatalf("acl token create exited %d:\n%s", code, out)
	}
	user := secretID(t, out)
	out, code = tu.cliToken(boot, "acl", "token", "create", "-type=management", "-global=true", "-name=Replication Token")
	if code != 0 {
		t.Fatalf("management token create exited %d:\n%s", code, out)
	}
	tu.token = secretID(t, out)
	// The client token reads nodes but may not manage ACLs.
	if out, code := tu.cliToken(user, "acl", "token", "list"); code == 0 || !strings.Contains(out, "403") {
		t.Fatalf("acl token list with the client token exited %d:\n%s", code, out)
	}
	tu.say("bootstrap, policy node-read-job-submit, client token and management token created")

	// Enrol the three agents with a join token, then give both site
	// brokers their logins.
	out, code = tu.cli("node", "join-token", "create", "-description", "shop sites", "-ttl", "1h")
	m := regexp.MustCompile(`Join token: (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("node join-token create exited %d:\n%s", code, out)
	}
	primary, site := tu.ns["primary"].Addr(), tu.ns["edge-site"].Addr()
	tu.startAgentIn("dc1-client", "dc1", "tcp://"+primary+":1883", m[1])
	tu.startAgentIn("edge-1", "dc2", "tcp://"+site+":1883", m[1])
	tu.startAgentIn("edge-2", "dc2", "tcp://"+site+":1883", m[1])
	for _, n := range []string{"dc1-client", "edge-1", "edge-2"} {
		eventually(t, 30*time.Second, func() error {
			_, err := os.Stat(filepath.Join(tu.dir, "agent-"+n, "enrolment.json"))
			return err
		})
	}
	tu.exportAuth()
	for _, addr := range []string{primary, site} {
		if _, err := mqttClient(t, "tcp://"+addr+":1883", nil, nil); err == nil {
			t.Fatalf("the broker at %s let an anonymous client in", addr)
		}
	}
	tu.say("3 agents enrolled with a join token; mqtt export-auth written to both site brokers (SIGHUP); anonymous clients refused")

	for _, page := range []string{"/ui/servers", "/ui/clients"} {
		if code, body := tu.getUI(page, ""); !strings.Contains(body, "Not authorized") || strings.Contains(body, "dc1-client") {
			t.Fatalf("UI %s without a token: HTTP %d\n%s", page, code, body)
		}
	}
	eventually(t, 30*time.Second, func() error {
		_, servers := tu.getUI("/ui/servers", user)
		_, clients := tu.getUI("/ui/clients", user)
		for _, s := range tu.servers {
			if !strings.Contains(servers, s.name) {
				return fmt.Errorf("/ui/servers lacks %s:\n%s", s.name, servers)
			}
		}
		for _, n := range []string{"dc1-client", "edge-1", "edge-2"} {
			if !strings.Contains(clients, n) || strings.Count(clients, "ready") < 3 {
				return fmt.Errorf("/ui/clients lacks a ready %s:\n%s", n, clients)
			}
		}
		return nil
	})
	tu.say("UI: refused without a token; with the client token 3 servers and 3 ready clients")
	tu.user = user
}

func (tu *tutorial) members() {
	t := tu.t
	var out string
	eventually(t, 30*time.Second, func() error {
		var code int
		out, code = tu.cliToken(tu.user, "server", "members")
		if code != 0 {
			return fmt.Errorf("server members exited %d:\n%s", code, out)
		}
		for _, s := range tu.servers {
			if !strings.Contains(out, s.name) {
				return fmt.Errorf("server members lacks %s:\n%s", s.name, out)
			}
		}
		if n := strings.Count(out, "alive"); n != 3 {
			return fmt.Errorf("server members shows %d alive servers, want 3:\n%s", n, out)
		}
		return nil
	})
	tu.say("server members:\n%s", out)
	out, code := tu.cliToken(tu.user, "node", "status")
	if code != 0 {
		t.Fatalf("node status exited %d:\n%s", code, out)
	}
	dcs := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "ready") {
			for _, dc := range []string{"dc1", "dc2"} {
				if strings.Contains(line, " "+dc+" ") {
					dcs[dc]++
				}
			}
		}
	}
	if dcs["dc1"] != 1 || dcs["dc2"] != 2 {
		t.Fatalf("node status: ready nodes per datacenter %v, want dc1 ×1, dc2 ×2:\n%s", dcs, out)
	}
	tu.say("node status:\n%s", out)
}

func (tu *tutorial) submit() {
	t := tu.t
	for _, f := range []struct {
		file, job string
		services  []string
	}{
		{"shop.hcl", "shop", []string{"shop-db", "shop-product-api"}},
		{"shop-edge.hcl", "shop-edge", []string{"shop-public-api", "shop-payments", "shop-frontend", "shop-proxy"}},
	} {
		start := time.Now()
		out, code := tu.cliToken(tu.user, "job", "submit", "-var", "bin_dir="+tu.shopBin, filepath.Join(tu.shopDir, f.file))
		if code != 0 {
			t.Fatalf("job submit %s exited %d:\n%s", f.file, code, out)
		}
		for _, want := range []string{"Monitoring evaluation", "Allocation", "created", `finished with status "complete"`} {
			if !strings.Contains(out, want) {
				t.Fatalf("job submit %s: the monitor output lacks %q:\n%s", f.file, want, out)
			}
		}
		tu.say("central job submit %s\n%s", f.file, out)
		eventually(t, 45*time.Second, func() error {
			for _, svc := range f.services {
				if inst := tu.service(svc, false); len(inst) != 1 {
					return fmt.Errorf("%s has %d healthy instances", svc, len(inst))
				}
			}
			return nil
		})
		tu.measure(f.job+" submitted→its services healthy", time.Since(start))
	}
	for _, a := range tu.allocs("shop-edge") {
		if n := tu.nodeName(a.NodeID); n != "edge-1" && n != "edge-2" {
			t.Fatalf("shop-edge allocation %s placed on %s, not in dc2", a.ID, n)
		}
	}
	if a := tu.allocs("shop"); len(a) != 1 || tu.nodeName(a[0].NodeID) != "dc1-client" {
		t.Fatalf("shop allocations %+v, want one on dc1-client", a)
	}
}

// nodeName maps a node id to its name.
func (tu *tutorial) nodeName(id string) string {
	var nodes []node
	if err := tu.get("/v1/nodes", &nodes); err != nil {
		tu.t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == id {
			return n.Name
		}
	}
	return "?" + id
}

// shopEdgeAlloc is the running allocation of shop-edge's proxy group and
// the name of its node.
func (tu *tutorial) shopEdgeAlloc() (alloc, string) {
	for _, a := range tu.allocs("shop-edge") {
		d := tu.allocDetail(a.ID)
		if d.Name != "" && strings.Contains(d.Name, ".shop-edge[") && a.DesiredStatus == "run" && a.ClientStatus == "running" {
			return a, tu.nodeName(a.NodeID)
		}
	}
	tu.t.Fatalf("no running shop-edge group allocation: %+v", tu.allocs("shop-edge"))
	return alloc{}, ""
}

// proxy is the shop's URL through the proxy on an edge node.
func (tu *tutorial) proxy(nodeName string) string {
	return "http://" + tu.ns[nodeName].Addr() + ":8080"
}

type coffee struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
}

func (tu *tutorial) menu(nodeName string) ([]coffee, error) {
	var cs []coffee
	if err := getJSON(tu.proxy(nodeName)+"/api/coffees", &cs); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("empty menu through %s", nodeName)
	}
	return cs, nil
}

func (tu *tutorial) shop() int {
	t := tu.t
	out, code := tu.cliToken(tu.user, "service", "list")
	if code != 0 {
		t.Fatalf("service list exited %d:\n%s", code, out)
	}
	for _, s := range []string{"shop-db", "shop-product-api", "shop-public-api", "shop-payments", "shop-frontend", "shop-proxy"} {
		if !strings.Contains(out, s) {
			t.Fatalf("service list lacks %s:\n%s", s, out)
		}
	}
	tu.say("central service list\n%s", out)
	_, edge := tu.shopEdgeAlloc()
	out, code = tu.cliToken(tu.user, "service", "info", "shop-proxy")
	if code != 0 || !strings.Contains(out, tu.ns[edge].Addr()+":8080") {
		t.Fatalf("service info shop-proxy (exit %d) does not show %s:8080:\n%s", code, tu.ns[edge].Addr(), out)
	}
	tu.say("central service info shop-proxy\n%s", out)

	var coffees []coffee
	eventually(t, 30*time.Second, func() error {
		var err error
		coffees, err = tu.menu(edge)
		return err
	})
	tu.say("GET %s/api/coffees: %d coffees from the dc1 database", tu.proxy(edge), len(coffees))
	order := tu.order(edge, coffees[0], 2)
	var got shopOrder
	if err := getJSON(fmt.Sprintf("%s/api/orders/%d", tu.proxy(edge), order.ID), &got); err != nil || got != order {
		t.Fatalf("order %d read back as %+v (%v), want %+v", order.ID, got, err, order)
	}
	tu.say("POST /api/orders: order %d paid (%s) and stored in the dc1 database", order.ID, order.PaymentID)
	return order.ID
}

// order places an order through the proxy on nodeName.
func (tu *tutorial) order(nodeName string, c coffee, qty int) shopOrder {
	var placed shopOrder
	eventually(tu.t, 20*time.Second, func() error {
		body, _ := json.Marshal(map[string]any{"coffee_id": c.ID, "quantity": qty, "card": "4242424242424242"})
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(tu.proxy(nodeName)+"/api/orders", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /api/orders: %s: %s", resp.Status, b)
		}
		return json.Unmarshal(b, &placed)
	})
	if placed.ID == 0 || placed.Total != qty*c.Price || !strings.HasPrefix(placed.PaymentID, "pay-") {
		tu.t.Fatalf("placed order %+v (price %d)", placed, c.Price)
	}
	return placed
}

// cut drops, inside the namespace of the edge agent running shop-edge,
// everything from the servers and from its site broker: the tutorial's
// iptables -I INPUT -s <server> -j DROP.
func (tu *tutorial) cut() (original, replacement alloc, cut string) {
	t := tu.t
	original, cut = tu.shopEdgeAlloc()
	other := map[string]string{"edge-1": "edge-2", "edge-2": "edge-1"}[cut]
	ns := tu.ns[cut]
	start := time.Now()
	for _, src := range []string{tu.ns["primary"].Addr(), tu.ns["edge-site"].Addr()} {
		if err := ns.Drop(src); err != nil {
			t.Fatal(err)
		}
	}
	tu.say("iptables -I INPUT -s <servers> -j DROP; iptables -I INPUT -s <site broker> -j DROP  (in %s)", cut)
	tu.waitUnknown(original.ID, 30*time.Second)
	tu.measure("cut→unknown", time.Since(start))
	replacement = tu.waitReplacement("shop-edge", original, 30*time.Second, func(a alloc) bool {
		return tu.nodeName(a.NodeID) == other
	})
	tu.measure("cut→replacement running on "+other, time.Since(start))
	out, code := tu.cliToken(tu.user, "job", "status", "shop-edge")
	if code != 0 || !strings.Contains(out, "unknown") {
		t.Fatalf("job status shop-edge (exit %d) does not show the unknown allocation:\n%s", code, out)
	}
	tu.say("central job status shop-edge\n%s", out)
	eventually(t, 30*time.Second, func() error {
		out, code := tu.cliToken(tu.user, "service", "info", "-all", "shop-proxy")
		if code != 0 || !strings.Contains(out, tu.ns[cut].Addr()+":8080") || !strings.Contains(out, tu.ns[other].Addr()+":8080") {
			return fmt.Errorf("service info -all shop-proxy (exit %d) does not list both instances:\n%s", code, out)
		}
		return nil
	})
	for _, n := range []string{cut, other} {
		eventually(t, 30*time.Second, func() error {
			_, err := tu.menu(n)
			return err
		})
	}
	tu.say("service info lists the proxy on %s and on %s; the shop answers through both", cut, other)
	return original, replacement, cut
}

func (tu *tutorial) restore(original, replacement alloc, cut string) {
	t := tu.t
	start := time.Now()
	if err := tu.ns[cut].Restore(); err != nil {
		t.Fatal(err)
	}
	tu.say("iptables -D INPUT ... (in %s)", cut)
	eventually(t, 60*time.Second, func() error {
		o, r := tu.allocDetail(original.ID), tu.allocDetail(replacement.ID)
		if o.ClientStatus != "running" || !o.hasEvent("Reconnected") {
			return fmt.Errorf("original is %s, events %+v", o.ClientStatus, o.Events)
		}
		if r.ClientStatus != "complete" || r.DesiredStatus != "stop" {
			return fmt.Errorf("replacement is %s/%s", r.ClientStatus, r.DesiredStatus)
		}
		if got := tu.service("shop-proxy", true); len(got) != 1 || got[0].AllocID != original.ID {
			return fmt.Errorf("shop-proxy instances after reconnect: %+v", got)
		}
		return nil
	})
	tu.measure("restore→reconciled", time.Since(start))
	if _, err := tu.menu(cut); err != nil {
		t.Fatalf("the shop through %s after the reconnect: %v", cut, err)
	}
	out, _ := tu.cliToken(tu.user, "job", "status", "shop-edge")
	tu.say("original %s running with a Reconnected event, replacement %s complete, one proxy listed\n%s",
		original.ID[:8], replacement.ID[:8], out)
}

// restarts is the restart count of every task of every running shop
// allocation, keyed "alloc/task".
func (tu *tutorial) restarts() map[string]int {
	out := map[string]int{}
	for _, job := range []string{"shop", "shop-edge"} {
		for _, a := range tu.allocs(job) {
			if a.ClientStatus != "running" {
				continue
			}
			for task, st := range a.TaskStates {
				out[a.ID[:8]+"/"+task] = st.Restarts
			}
		}
	}
	return out
}

// probe polls the shop through edge every 200 ms until stop is closed and
// reports the failed requests of the whole time.
func (tu *tutorial) probe(edge string, stop <-chan struct{}) <-chan []string {
	done := make(chan []string, 1)
	go func() {
		var failures []string
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- failures
				return
			case <-tick.C:
				if _, err := tu.menu(edge); err != nil {
					failures = append(failures, err.Error())
				}
			}
		}
	}()
	return done
}

func (tu *tutorial) killLeader(original alloc) {
	t := tu.t
	edge := tu.nodeName(original.NodeID)
	before := tu.restarts()
	leader := tu.waitLeader(10 * time.Second)
	stop := make(chan struct{})
	failures := tu.probe(edge, stop)
	start := time.Now()
	leader.p.stop(syscall.SIGKILL)
	tu.say("kill -9 the leader, %s", leader.name)
	next := tu.waitLeader(30 * time.Second)
	tu.measure("new leader ("+next.name+") after", time.Since(start))
	// The shop keeps answering through the new leader's gateway taking over.
	for _, n := range []string{"dc1-client", "edge-1", "edge-2"} {
		tu.waitNode(n, "ready", 30*time.Second)
	}
	close(stop)
	if f := <-failures; len(f) > 0 {
		t.Fatalf("the shop failed %d requests during the failover: %v", len(f), f[:min(len(f), 3)])
	}
	if after := tu.restarts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("task restarts changed across the failover: before %v, after %v", before, after)
	}
	tu.say("the shop answered every request during the failover; no task restarted")
	// Bring the killed server back, as an operator would.
	tu.startServer(leader)
	tu.waitLeader(30 * time.Second)
	eventually(t, 30*time.Second, func() error {
		out, code := tu.cli("server", "members")
		if code != 0 || strings.Count(out, "alive") != 3 {
			return fmt.Errorf("server members (exit %d):\n%s", code, out)
		}
		return nil
	})
	tu.say("%s restarted and rejoined: 3 servers alive", leader.name)
}

// taskPid finds the pid of the process running binary inside the namespace.
func taskPid(ns *partition.Netns, binary string) (int, error) {
	nsLink, err := ns.Exec("readlink", "/proc/self/ns/net")
	if err != nil {
		return 0, err
	}
	want := strings.TrimSpace(string(nsLink))
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || exe != binary {
			continue
		}
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); link == want && pidAlive(pid) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s running in %s", binary, ns.Name())
}

func (tu *tutorial) centralOutage(original alloc, orderID int) {
	t := tu.t
	edge := tu.nodeName(original.NodeID)
	nodeID := original.NodeID
	for _, s := range tu.servers {
		s.p.stop(syscall.SIGTERM)
	}
	start := time.Now()
	tu.say("all 3 servers stopped")

	// Edge tasks keep serving; a restarted task renders its template from
	// the site broker (central's retained service messages).
	// Probe the shop for a while with central gone, then restart a task.
	stop := make(chan struct{})
	failures := tu.probe(edge, stop)
	select {
	case <-time.After(10 * time.Second):
	case <-t.Context().Done():
		return
	}
	close(stop)
	if f := <-failures; len(f) > 0 {
		t.Fatalf("the shop failed %d requests while central was down: %v", len(f), f[:min(len(f), 3)])
	}
	publicAPI := filepath.Join(tu.shopBin, "public-api")
	pid, err := taskPid(tu.ns[edge], publicAPI)
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(tu.dir, "agent-"+edge, "allocs", original.ID, "public-api", "local", "product-api.env")
	if err := os.Remove(envFile); err != nil {
		t.Fatalf("remove the rendered template %s: %v", envFile, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	tu.say("kill -9 public-api (pid %d) on %s and remove its rendered product-api.env", pid, edge)
	var newPid int
	eventually(t, 30*time.Second, func() error {
		p, err := taskPid(tu.ns[edge], publicAPI)
		if err != nil || p == pid {
			return fmt.Errorf("public-api not restarted yet (%v)", err)
		}
		newPid = p
		b, err := os.ReadFile(envFile)
		if err != nil {
			return err
		}
		if want := "PRODUCT_API_URI=\"http://" + tu.ns["dc1-client"].Addr() + ":"; !strings.Contains(string(b), want) {
			return fmt.Errorf("rendered product-api.env lacks %s: %q", want, b)
		}
		_, err = tu.menu(edge)
		return err
	})
	tu.measure("public-api restarted, template re-rendered from the site broker, serving", time.Since(killed))
	var got shopOrder
	if err := getJSON(fmt.Sprintf("%s/api/orders/%d", tu.proxy(edge), orderID), &got); err != nil || got.ID != orderID {
		t.Fatalf("order %d through the restarted public-api: %+v, %v", orderID, got, err)
	}
	tu.say("public-api runs again (pid %d) and serves order %d with central down", newPid, orderID)
	stop = make(chan struct{})
	failures = tu.probe(edge, stop)

	for remaining := time.Until(start.Add(outageFor)); remaining > 0; remaining = time.Until(start.Add(outageFor)) {
		tu.say("   central down for %v, the shop answering (%v to go)", time.Since(start).Round(time.Second), remaining.Round(time.Second))
		select {
		case <-time.After(min(remaining, 15*time.Second)):
		case <-t.Context().Done():
			return
		}
	}
	close(stop)
	if f := <-failures; len(f) > 0 {
		t.Fatalf("the shop failed %d requests while central was down: %v", len(f), f[:min(len(f), 3)])
	}
	tu.say("the shop answered every request for %v without central", time.Since(start).Round(time.Second))

	restart := time.Now()
	for _, s := range tu.servers {
		tu.startServer(s)
	}
	tu.waitLeader(60 * time.Second)
	eventually(t, 60*time.Second, func() error {
		var n node
		if err := tu.get("/v1/node/"+nodeID, &n); err != nil {
			return err
		}
		if n.Status != "ready" {
			return fmt.Errorf("%s is %s", edge, n.Status)
		}
		as := tu.allocs("shop-edge")
		running := 0
		for _, a := range as {
			if a.ClientStatus == "running" {
				running++
			}
			if a.ID == original.ID && a.TaskStates["public-api"].Restarts < 1 {
				return fmt.Errorf("the restart of public-api is not reported yet: %+v", a.TaskStates)
			}
		}
		if running != 2 {
			return fmt.Errorf("shop-edge has %d running allocations, want 2 (shop-edge and payments): %+v", running, as)
		}
		return nil
	})
	tu.measure("central restarted→reconciled", time.Since(restart))
	if got := tu.service("shop-proxy", true); len(got) != 1 || got[0].AllocID != original.ID {
		t.Fatalf("shop-proxy after the outage: %+v", got)
	}
}
