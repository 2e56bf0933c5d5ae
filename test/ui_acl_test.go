package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// cdp is a Chrome DevTools Protocol session with one page target, driven
// from the test goroutine only (no reader goroutine: each call reads until
// its own answer and drops the events in between).
type cdp struct {
	t    *testing.T
	conn *websocket.Conn
	next int
}

// startChromiumCDP starts headless Chromium with a fresh profile and an
// ephemeral DevTools port on loopback, and connects to its page target.
// The browser's whole process group is killed when the test ends.
func startChromiumCDP(t *testing.T, bin string) *cdp {
	t.Helper()
	profile := t.TempDir() // removed after the kill below (cleanups run LIFO)
	cmd := exec.Command(bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
		"--disable-dev-shm-usage", "--user-data-dir="+profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("---- output of chromium ----\n%s", out.String())
		}
	})

	var port string
	eventually(t, 10*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if err != nil {
			return err
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) < 2 || strings.TrimSpace(lines[0]) == "" {
			return fmt.Errorf("DevToolsActivePort incomplete: %q", b)
		}
		port = strings.TrimSpace(lines[0])
		return nil
	})

	var wsURL string
	eventually(t, 10*time.Second, func() error {
		resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var targets []struct {
			Type string `json:"type"`
			WS   string `json:"webSocketDebuggerUrl"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
			return err
		}
		for _, tg := range targets {
			if tg.Type == "page" && tg.WS != "" {
				wsURL = tg.WS
				return nil
			}
		}
		return fmt.Errorf("no page target yet: %+v", targets)
	})
	if !strings.HasPrefix(wsURL, "ws://127.0.0.1:") {
		t.Fatalf("page target is not on loopback: %s", wsURL)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("connect to %s: %v", wsURL, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &cdp{t: t, conn: conn}
}

// call sends one CDP command and returns its result, failing the test on a
// protocol error or after 30 s without an answer (a loaded machine may starve the browser for seconds).
func (c *cdp) call(method string, params map[string]any) json.RawMessage {
	c.t.Helper()
	c.next++
	id := c.next
	if params == nil {
		params = map[string]any{}
	}
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.conn.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		c.t.Fatalf("CDP %s: send: %v", method, err)
	}
	c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var msg struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := c.conn.ReadJSON(&msg); err != nil {
			c.t.Fatalf("CDP %s: read: %v", method, err)
		}
		if msg.ID != id {
			continue // an event, or the answer to nothing we wait for
		}
		if msg.Error != nil {
			c.t.Fatalf("CDP %s: error %d: %s", method, msg.Error.Code, msg.Error.Message)
		}
		return msg.Result
	}
}

// navigate loads url in the page; the caller polls for its content.
func (c *cdp) navigate(url string) {
	c.t.Helper()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	if err := json.Unmarshal(c.call("Page.navigate", map[string]any{"url": url}), &res); err != nil {
		c.t.Fatalf("Page.navigate %s: %v", url, err)
	}
	if res.ErrorText != "" {
		c.t.Fatalf("Page.navigate %s: %s", url, res.ErrorText)
	}
}

// eval runs a JavaScript expression in the page and returns its string value.
func (c *cdp) eval(expr string) (string, error) {
	c.t.Helper()
	var res struct {
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	raw := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
	if err := json.Unmarshal(raw, &res); err != nil {
		return "", err
	}
	if res.Exception != nil {
		return "", fmt.Errorf("%s: %s", expr, raw)
	}
	s, ok := res.Result.Value.(string)
	if !ok {
		return "", fmt.Errorf("%s returned %s, not a string", expr, raw)
	}
	return s, nil
}

// pageText is the loaded page's URL, title and visible text ("" while the
// page is still loading).
const pageText = `document.readyState === "complete" && document.body ? location.pathname + "\n" + document.title + "\n" + document.body.innerText : ""`

// waitPage polls the page at path until check accepts its text.
func (c *cdp) waitPage(path string, timeout time.Duration, check func(text string) error) string {
	c.t.Helper()
	var text string
	eventually(c.t, timeout, func() error {
		var err error
		if text, err = c.eval(pageText); err != nil {
			return err
		}
		if !strings.HasPrefix(text, path+"\n") {
			return fmt.Errorf("%s not loaded yet: %q", path, text)
		}
		return check(text)
	})
	return text
}

// With ACLs on, the client list refuses a browser without a token; the
// token page stores a management token, and then the same browser sees
// the client list with the agent.
func TestWebUITokenUnlocksACLCluster(t *testing.T) {
	bin := requireTool(t, "chromium", "chromium-browser")
	c := startCentral(t, clusterOpts{acl: true})
	c.startAgent("edge-1") // agents register over MQTT whatever the ACLs

	out, code := c.cliToken("", "acl", "bootstrap")
	if code != 0 {
		t.Fatalf("acl bootstrap exited %d:\n%s", code, out)
	}
	secret := secretID(t, out)
	eventually(t, 15*time.Second, func() error {
		out, code := c.cliToken(secret, "node", "status")
		if code != 0 || !strings.Contains(out, "edge-1") {
			return fmt.Errorf("node status exited %d: %s", code, out)
		}
		return nil
	})

	b := startChromiumCDP(t, bin)
	b.call("Page.enable", nil)
	base := "http://" + c.http + "/ui"

	// No token: the gate's page, linking to the token page.
	b.navigate(base + "/clients")
	text := b.waitPage("/ui/clients", 10*time.Second, func(text string) error {
		if !strings.Contains(text, "Not authorized") {
			return fmt.Errorf("no %q", "Not authorized")
		}
		return nil
	})
	if strings.Contains(text, "edge-1") || !strings.Contains(text, "Set an ACL token") {
		t.Errorf("client list without a token:\n%s", text)
	}

	// The token page: wait for app.js to have wired the form, then submit.
	b.navigate(base + "/settings/tokens")
	b.waitPage("/ui/settings/tokens", 10*time.Second, func(text string) error {
		if !strings.Contains(text, "No token set.") {
			return fmt.Errorf("token page script has not run: %q", text)
		}
		return nil
	})
	enc, _ := json.Marshal(secret)
	if _, err := b.eval(`(function () {
		document.getElementById("token-secret").value = ` + string(enc) + `;
		document.getElementById("token-form").requestSubmit();
		return "submitted";
	})()`); err != nil {
		t.Fatalf("submit the token form: %v", err)
	}
	eventually(t, 5*time.Second, func() error {
		got, err := b.eval(`document.getElementById("token-status").textContent + "|" + document.cookie`)
		if err != nil {
			return err
		}
		if !strings.Contains(got, "A token is set for this session.") || !strings.Contains(got, "tether_token=") {
			return fmt.Errorf("token not stored: %q", got)
		}
		return nil
	})

	// With the token: the client list with the agent.
	b.navigate(base + "/clients")
	text = b.waitPage("/ui/clients", 10*time.Second, func(text string) error {
		if !strings.Contains(text, "edge-1") {
			return fmt.Errorf("client list lacks edge-1: %q", text)
		}
		return nil
	})
	if strings.Contains(text, "Not authorized") {
		t.Errorf("client list with a management token still refused:\n%s", text)
	}
}
