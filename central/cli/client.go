package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxResponse bounds what the CLI reads from the API.
const maxResponse = 64 << 20

// apiError is a non-2xx answer from the API.
type apiError struct {
	code int
	msg  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.msg, e.code)
}

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == http.StatusNotFound
}

// call does one API request and returns the body and X-Tether-Index.
func (e *env) call(ctx context.Context, method, path string, q url.Values, body any) ([]byte, uint64, error) {
	u := e.address + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set(TokenHeader, e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: reading response: %w", method, u, err)
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Tether-Index"), 10, 64)
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = string(bytes.TrimSpace(b))
		}
		return nil, idx, &apiError{code: resp.StatusCode, msg: eb.Error}
	}
	return b, idx, nil
}

// get does a GET and decodes the body into out (unless out is nil).
func (e *env) get(ctx context.Context, path string, q url.Values, out any) ([]byte, uint64, error) {
	b, idx, err := e.call(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, idx, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, idx, fmt.Errorf("GET %s: decoding response: %w", path, err)
		}
	}
	return b, idx, nil
}

// blockingQuery returns q plus ?index=&wait= for a blocking read.
func blockingQuery(q url.Values, index uint64, wait time.Duration) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	if index > 0 {
		out.Set("index", strconv.FormatUint(index, 10))
		out.Set("wait", wait.String())
	}
	return out
}

func (e *env) nsQuery() url.Values {
	q := url.Values{}
	if e.namespace != "" && e.namespace != "default" {
		q.Set("namespace", e.namespace)
	}
	return q
}

// printJSON writes an API body as received, ending in one newline.
func (e *env) printJSON(body []byte) int {
	e.stdout.Write(bytes.TrimRight(body, "\n"))
	io.WriteString(e.stdout, "\n")
	return exitOK
}
