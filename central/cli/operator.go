package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
)

// raftConfig is GET /v1/operator/raft/configuration.
type raftConfig struct {
	Index   uint64 `json:"index"`
	Servers []struct {
		ID           string `json:"id"`
		Node         string `json:"node"`
		Address      string `json:"address"`
		HTTPAddr     string `json:"http_addr"`
		Leader       bool   `json:"leader"`
		Voter        bool   `json:"voter"`
		RaftProtocol string `json:"raft_protocol"`
	} `json:"servers"`
}

func (e *env) raftRemovePeer(args []string) int {
	fs := e.flags()
	var id, addr string
	fs.StringVar(&id, "peer-id", "", "ID (name) of the server to remove")
	fs.StringVar(&addr, "peer-address", "", "Raft address of the server to remove")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 0, 0) {
		return exitUsage
	}
	if (id == "") == (addr == "") {
		fmt.Fprintln(e.stderr, "Error: give exactly one of -peer-id or -peer-address (see central operator raft list-peers).")
		return exitUsage
	}
	q := url.Values{}
	if id != "" {
		q.Set("id", id)
	} else {
		q.Set("address", addr)
	}
	ctx, cancel := e.ctx()
	defer cancel()
	if _, _, err := e.call(ctx, http.MethodDelete, "/v1/operator/raft/peer", q, nil); err != nil {
		return e.fail("removing the peer", err)
	}
	fmt.Fprintf(e.stdout, "Removed peer %s%s\n", id, addr)
	return exitOK
}

func (e *env) snapshotSave(args []string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	file := fs.Arg(0)
	ctx, cancel := e.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.address+"/v1/operator/snapshot", nil)
	if err != nil {
		return e.fail("saving the snapshot", err)
	}
	if e.token != "" {
		req.Header.Set(TokenHeader, e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return e.fail("saving the snapshot", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return e.fail("saving the snapshot", apiErrorFrom(resp))
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".snapshot-*")
	if err != nil {
		return e.fail("saving the snapshot", err)
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d of %d bytes", n, resp.ContentLength)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return e.fail("saving the snapshot to "+file, err)
	}
	fmt.Fprintf(e.stdout, "Saved snapshot to %s (%d bytes)\n", file, n)
	return exitOK
}

func (e *env) snapshotRestore(args []string) int {
	fs := e.flags()
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	if !e.nargs(fs, 1, 1) {
		return exitUsage
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return e.fail("restoring the snapshot", err)
	}
	defer f.Close()
	ctx, cancel := e.ctx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, e.address+"/v1/operator/snapshot", f)
	if err != nil {
		return e.fail("restoring the snapshot", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if e.token != "" {
		req.Header.Set(TokenHeader, e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return e.fail("restoring the snapshot", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return e.fail("restoring the snapshot", apiErrorFrom(resp))
	}
	fmt.Fprintf(e.stdout, "Restored snapshot from %s\n", fs.Arg(0))
	var out struct {
		KeyringRotated bool `json:"keyring_rotated"`
	}
	if b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20)); json.Unmarshal(b, &out) == nil && out.KeyringRotated {
		fmt.Fprintf(e.stdout, "The snapshot's keyring was sealed by another cluster's key-encryption key, which no server here holds:\n"+
			"central made a new signing key and broker password. Enrol the agents again and re-export Mosquitto's files\n"+
			"(central mqtt export-auth). To keep the old keys: stop the servers, copy the old cluster's keyring.kek into every server's data dir, start them and restore again.\n")
	}
	return exitOK
}

func apiErrorFrom(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		eb.Error = string(bytes.TrimSpace(b))
	}
	return &apiError{code: resp.StatusCode, msg: eb.Error}
}

// raftVersions maps server name → Raft protocol version ("" if the
// server does not serve the configuration endpoint).
func (e *env) raftConfiguration() (*raftConfig, []byte, error) {
	ctx, cancel := e.ctx()
	defer cancel()
	var rc raftConfig
	b, _, err := e.get(ctx, "/v1/operator/raft/configuration", nil, &rc)
	if err != nil {
		return nil, nil, err
	}
	return &rc, b, nil
}

func boolStr(b bool) string { return strconv.FormatBool(b) }
