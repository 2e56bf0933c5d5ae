package podman

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// The typed libpod calls the driver uses. Every path names a container by
// its id or an image by a reference that parseTaskConfig has checked for
// characters that would need escaping.

func (c *client) ping(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/_ping", nil, nil, nil)
}

type versionInfo struct {
	Version    string `json:"Version"`
	APIVersion string `json:"ApiVersion"`
}

func (c *client) version(ctx context.Context) (versionInfo, error) {
	var v versionInfo
	err := c.call(ctx, http.MethodGet, "/version", nil, nil, &v)
	return v, err
}

func (c *client) imageExists(ctx context.Context, ref string) (bool, error) {
	err := c.call(ctx, http.MethodGet, "/images/"+ref+"/exists", nil, nil, nil)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// pull pulls ref. Podman answers 200 and then streams JSON objects; a
// failure is an object with an "error" field.
func (c *client) pull(ctx context.Context, ref string) error {
	q := url.Values{"reference": {ref}, "quiet": {"true"}}
	resp, err := c.request(ctx, http.MethodPost, "/images/pull", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 16<<20))
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("podman API: read pull progress: %w", err)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

func (c *client) create(ctx context.Context, s *specGenerator) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.call(ctx, http.MethodPost, "/containers/create", nil, s, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("podman API: create answered without a container id")
	}
	return out.ID, nil
}

func (c *client) start(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+id+"/start", nil, nil, nil)
}

// inspectResult is the part of a container's inspect answer the driver reads.
type inspectResult struct {
	ID    string `json:"Id"`
	Name  string `json:"Name"`
	State struct {
		Status     string    `json:"Status"`
		Running    bool      `json:"Running"`
		OOMKilled  bool      `json:"OOMKilled"`
		ExitCode   int       `json:"ExitCode"`
		Error      string    `json:"Error"`
		StartedAt  time.Time `json:"StartedAt"`
		FinishedAt time.Time `json:"FinishedAt"`
	} `json:"State"`
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"Config"`
	HostConfig struct {
		Memory     int64 `json:"Memory"`
		MemorySwap int64 `json:"MemorySwap"`
		CPUShares  int64 `json:"CpuShares"`
	} `json:"HostConfig"`
}

// exited reports whether the container has run and is not running any more.
func (r *inspectResult) exited() bool {
	switch r.State.Status {
	case "exited", "stopped", "dead":
		return true
	}
	return false
}

func (c *client) inspect(ctx context.Context, id string) (*inspectResult, error) {
	var r inspectResult
	if err := c.call(ctx, http.MethodGet, "/containers/"+id+"/json", nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// wait long-polls until the container has stopped and returns its exit code.
func (c *client) wait(ctx context.Context, id string) (int, error) {
	q := url.Values{"condition": {"stopped"}}
	resp, err := c.request(ctx, http.MethodPost, "/containers/"+id+"/wait", q, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return 0, fmt.Errorf("podman API: read wait answer: %w", err)
	}
	var code int
	if err := json.Unmarshal(b, &code); err != nil {
		return 0, fmt.Errorf("podman API: wait answered %q, not an exit code", b)
	}
	return code, nil
}

func (c *client) kill(ctx context.Context, id, signal string) error {
	return c.call(ctx, http.MethodPost, "/containers/"+id+"/kill", url.Values{"signal": {signal}}, nil, nil)
}

// remove force-removes a container (killing it if it runs) with its
// anonymous volumes. A container that is already gone is not an error.
func (c *client) remove(ctx context.Context, id string) error {
	err := c.call(ctx, http.MethodDelete, "/containers/"+id, url.Values{"force": {"true"}, "v": {"true"}, "timeout": {"0"}}, nil, nil)
	if isNotFound(err) {
		return nil
	}
	return err
}

// listEntry is one container of a list answer.
type listEntry struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

// list returns every container (running or not) that carries label.
func (c *client) list(ctx context.Context, label string) ([]listEntry, error) {
	f, err := json.Marshal(map[string][]string{"label": {label}})
	if err != nil {
		panic("BUG: marshal list filter: " + err.Error())
	}
	var out []listEntry
	err = c.call(ctx, http.MethodGet, "/containers/json", url.Values{"all": {"true"}, "filters": {string(f)}}, nil, &out)
	return out, err
}

// logs opens the container's multiplexed log stream, following it until the
// container exits, from since (zero: the beginning), with a timestamp on
// each line.
func (c *client) logs(ctx context.Context, id string, since time.Time) (io.ReadCloser, error) {
	q := url.Values{"follow": {"true"}, "stdout": {"true"}, "stderr": {"true"}, "timestamps": {"true"}}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339))
	}
	resp, err := c.request(ctx, http.MethodGet, "/containers/"+id+"/logs", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// statsResult is the part of a one-shot stats answer the driver reads.
type statsResult struct {
	Stats []struct {
		MemUsage   uint64 `json:"MemUsage"`
		CPUNano    uint64 `json:"CPUNano"`
		SystemNano uint64 `json:"SystemNano"`
	} `json:"Stats"`
}

func (c *client) stats(ctx context.Context, id string) (statsResult, error) {
	var r statsResult
	q := url.Values{"stream": {"false"}, "containers": {id}}
	err := c.call(ctx, http.MethodGet, "/containers/stats", q, nil, &r)
	return r, err
}
