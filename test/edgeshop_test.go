package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tether-edge/tether/internal/testhost"
)

// buildEdgeShop runs examples/edge-shop/build.sh into a temporary dir (Go
// services and the wasm payments guest; clang is required under CI=true).
func buildEdgeShop(t *testing.T) (root, bin string) {
	t.Helper()
	requireTool(t, "clang")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command("sh", filepath.Join(root, "examples", "edge-shop", "build.sh"), bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		testhost.Require(t, !strings.Contains(string(out), "wasm"), fmt.Sprintf("building the shop's wasm guest (%v)\n%s", err, out), "install clang, lld and wasi-libc; .ci/run does")
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	return root, bin
}

// shopOrder is an order as the shop's APIs return it.
type shopOrder struct {
	ID        int    `json:"id"`
	CoffeeID  int    `json:"coffee_id"`
	Quantity  int    `json:"quantity"`
	Total     int    `json:"total"`
	PaymentID string `json:"payment_id"`
}

func getJSON(url string, v any) error {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// The tutorial's HashiCups flow with the edge shop: shop.hcl in dc1 (db and
// product API), shop-edge.hcl in dc2 (public API, wasm payments, frontend,
// proxy), wired by native service discovery. Through the proxy the menu
// comes from dc1 and an order is paid at the edge and stored in the dc1
// database, which keeps it when its process is killed and restarted.
func TestEdgeShopEndToEnd(t *testing.T) {
	root, bin := buildEdgeShop(t)
	c := startCentral(t, clusterOpts{})
	c.startAgent("onprem")
	c.startAgent("edge-1", "-datacenter", "dc2")
	c.waitNode("onprem", "ready", 20*time.Second)
	onprem := c.waitNode("onprem", "ready", time.Second)
	edge := c.waitNode("edge-1", "ready", 20*time.Second)

	shopDir := filepath.Join(root, "examples", "edge-shop")
	if out, code := c.cli("job", "submit", "-var", "bin_dir="+bin, filepath.Join(shopDir, "shop.hcl")); code != 0 {
		t.Fatalf("submit shop.hcl exited %d:\n%s", code, out)
	}
	shopAlloc := c.waitRunning("shop", 1, 30*time.Second)[0]
	if shopAlloc.NodeID != onprem.ID {
		t.Fatalf("shop placed on node %s, want onprem (%s) in dc1", shopAlloc.NodeID, onprem.ID)
	}
	eventually(t, 30*time.Second, func() error {
		if inst := c.service("shop-product-api", false); len(inst) != 1 || inst[0].Address != "127.0.0.1" {
			env, _ := os.ReadFile(filepath.Join(c.dir, "agent-onprem", "allocs", shopAlloc.ID, "product-api", "local", "env.txt"))
			return fmt.Errorf("shop-product-api instances: %+v (shop-db: %+v; product-api's env.txt: %q)",
				inst, c.service("shop-db", true), env)
		}
		return nil
	})

	proxyPort := freePort(t)
	if out, code := c.cli("job", "submit", "-var", "bin_dir="+bin, "-var", "proxy_port="+strconv.Itoa(proxyPort),
		filepath.Join(shopDir, "shop-edge.hcl")); code != 0 {
		t.Fatalf("submit shop-edge.hcl exited %d:\n%s", code, out)
	}
	for _, a := range c.waitRunning("shop-edge", 2, 30*time.Second) {
		if a.NodeID != edge.ID {
			t.Fatalf("shop-edge allocation %s on node %s, want edge-1 (%s) in dc2", a.ID, a.NodeID, edge.ID)
		}
	}
	proxy := fmt.Sprintf("http://127.0.0.1:%d", proxyPort)

	// The menu, from the dc1 database through both APIs and the proxy.
	var coffees []struct {
		ID    int    `json:"id"`
		Name  string `json:"name"`
		Price int    `json:"price"`
	}
	eventually(t, 30*time.Second, func() error {
		if err := getJSON(proxy+"/api/coffees", &coffees); err != nil {
			return err
		}
		if len(coffees) == 0 {
			return fmt.Errorf("empty menu")
		}
		return nil
	})
	page, err := httpGet(proxy + "/")
	if err != nil || !strings.Contains(page, "Edge Shop") || !strings.Contains(page, "dc2") {
		t.Fatalf("frontend page through the proxy: %v\n%s", err, page)
	}

	// An order: paid by the wasm payments guest, stored by shop-db.
	var placed shopOrder
	eventually(t, 20*time.Second, func() error {
		body, _ := json.Marshal(map[string]any{"coffee_id": coffees[0].ID, "quantity": 2, "card": "4242424242424242"})
		resp, err := http.Post(proxy+"/api/orders", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /api/orders: %s: %s (shop-payments: %+v)", resp.Status, b, c.service("shop-payments", true))
		}
		return json.Unmarshal(b, &placed)
	})
	if placed.ID == 0 || placed.Total != 2*coffees[0].Price || !strings.HasPrefix(placed.PaymentID, "pay-") {
		t.Fatalf("placed order %+v (price %d)", placed, coffees[0].Price)
	}
	dataDir := filepath.Join(c.dir, "agent-onprem", "allocs", shopAlloc.ID, "alloc", "data")
	stored, err := os.ReadFile(filepath.Join(dataDir, "orders.json"))
	if err != nil || !strings.Contains(string(stored), placed.PaymentID) {
		t.Fatalf("order %+v not in the database file: %v\n%s", placed, err, stored)
	}

	// Kill the database's process: the agent restarts the task, and the
	// order is still there, read back through the proxy.
	pidFile := filepath.Join(dataDir, "shop-db.pid")
	readPid := func() int {
		b, _ := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	pid := readPid()
	if pid <= 0 || !pidAlive(pid) {
		t.Fatalf("shop-db pid file %s: %d (not a live process)", pidFile, pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if now := readPid(); now == pid || !pidAlive(now) {
			return fmt.Errorf("shop-db not restarted yet (pid %d, was %d)", now, pid)
		}
		as := c.allocs("shop")
		if len(as) != 1 || as[0].ID != shopAlloc.ID || as[0].TaskStates["db"].Restarts < 1 {
			return fmt.Errorf("shop allocations: %+v", as)
		}
		return nil
	})
	eventually(t, 30*time.Second, func() error {
		var got shopOrder
		if err := getJSON(fmt.Sprintf("%s/api/orders/%d", proxy, placed.ID), &got); err != nil {
			return err
		}
		if got != placed {
			return fmt.Errorf("order after the restart %+v, want %+v", got, placed)
		}
		return nil
	})
}
