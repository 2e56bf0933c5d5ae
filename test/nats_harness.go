package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// natsCluster is a real three-node NATS server cluster (Debian's
// nats-server) with JetStream and its MQTT listener, on loopback ports,
// configured as docs/nats.md shows.
type natsCluster struct {
	t     testing.TB
	bin   string
	dir   string
	nodes []*natsNode
}

type natsNode struct {
	name           string
	conf           string
	client, mqtt   int
	route, monitor int
	proc           *proc
	restarts       int
}

// MQTT is the node's MQTT URL.
func (n *natsNode) MQTT() string { return fmt.Sprintf("tcp://127.0.0.1:%d", n.mqtt) }

// natsAuthFile is where the nodes read their authorization block from
// (the file `central mqtt export-auth -format nats` writes).
func (nc *natsCluster) authFile() string { return filepath.Join(nc.dir, "tether-auth.conf") }

// startNATSCluster starts three nodes. auth is the authorization block
// they include ("" runs them without logins).
func startNATSCluster(t testing.TB, auth string) *natsCluster {
	t.Helper()
	nc := &natsCluster{t: t, bin: requireTool(t, "nats-server", "/usr/sbin/nats-server", "/usr/bin/nats-server"), dir: t.TempDir()}
	for i := range 3 {
		nc.nodes = append(nc.nodes, &natsNode{name: fmt.Sprintf("n%d", i+1),
			client: freePort(t), mqtt: freePort(t), route: freePort(t), monitor: freePort(t)})
	}
	var routes []string
	for _, n := range nc.nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", n.route))
	}
	include := ""
	if auth != "" {
		nc.writeAuth(auth)
		include = "include \"tether-auth.conf\"\n"
	}
	for _, n := range nc.nodes {
		n.conf = filepath.Join(nc.dir, n.name+".conf")
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: tether
  listen: 127.0.0.1:%d
  routes: [%s]
}
mqtt {
  listen: 127.0.0.1:%d
  stream_replicas: 3
}
%s`, n.name, n.client, n.monitor, filepath.Join(nc.dir, "js-"+n.name), n.route, strings.Join(routes, ", "), n.mqtt, include)
		if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nc.nodes {
		nc.start(n)
	}
	for _, n := range nc.nodes {
		nc.waitHealthy(n, 60*time.Second)
	}
	return nc
}

func (nc *natsCluster) writeAuth(auth string) {
	nc.t.Helper()
	if err := os.WriteFile(nc.authFile(), []byte(auth), 0o600); err != nil {
		nc.t.Fatal(err)
	}
}

func (nc *natsCluster) start(n *natsNode) {
	nc.t.Helper()
	name := "nats " + n.name
	if n.restarts > 0 {
		name = fmt.Sprintf("%s (restart %d)", name, n.restarts)
	}
	n.restarts++
	n.proc = start(nc.t, name, nc.bin, "-c", n.conf)
}

// waitHealthy waits until the node answers its health check with its
// JetStream in the cluster (nats-server's /healthz), and its MQTT
// listener accepts connections.
func (nc *natsCluster) waitHealthy(n *natsNode, timeout time.Duration) {
	nc.t.Helper()
	eventually(nc.t, timeout, func() error {
		if n.proc.exited() {
			nc.t.Fatalf("nats node %s exited:\n%s", n.name, n.proc.out.String())
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", n.monitor))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("nats node %s: /healthz %s", n.name, resp.Status)
		}
		return nil
	})
	waitListening(nc.t, fmt.Sprintf("127.0.0.1:%d", n.mqtt))
}

// reload makes every running node read its configuration again (SIGHUP,
// as nats-server --signal reload does).
func (nc *natsCluster) reload() {
	const done = "Reloaded server configuration"
	before := map[*natsNode]int{}
	for _, n := range nc.nodes {
		if !n.proc.exited() {
			before[n] = strings.Count(n.proc.out.String(), done)
			n.proc.cmd.Process.Signal(syscall.SIGHUP)
		}
	}
	for _, n := range nc.nodes {
		if n.proc.exited() {
			continue
		}
		eventually(nc.t, 60*time.Second, func() error {
			if strings.Count(n.proc.out.String(), done) > before[n] {
				return nil
			}
			if n.proc.exited() {
				nc.t.Fatalf("nats node %s exited on reload:\n%s", n.name, n.proc.out.String())
			}
			return fmt.Errorf("nats node %s has not reloaded", n.name)
		})
	}
}

// URLs lists the nodes' MQTT URLs starting at node first, as one broker
// for central (comma-separated).
func (nc *natsCluster) URLs(first int) []string {
	var out []string
	for i := range nc.nodes {
		out = append(out, nc.nodes[(first+i)%len(nc.nodes)].MQTT())
	}
	return out
}

// mqttClients lists the client IDs of the MQTT clients connected to node n
// (its monitoring endpoint /connz).
func (nc *natsCluster) mqttClients(n *natsNode) ([]string, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/connz?limit=100000", n.monitor))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			MQTTClient string `json:"mqtt_client"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		return nil, fmt.Errorf("nats node %s: /connz: %w", n.name, err)
	}
	var ids []string
	for _, c := range connz.Connections {
		if c.MQTTClient != "" {
			ids = append(ids, c.MQTTClient)
		}
	}
	return ids, nil
}
