package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// ErrNoListenAddr is returned when a service cannot tell where to listen.
var ErrNoListenAddr = errors.New("no listen address")

// Coffee is one product of the shop; Price is in cents.
type Coffee struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// Order is a placed order as the database stores it.
type Order struct {
	ID        int    `json:"id"`
	CoffeeID  int    `json:"coffee_id"`
	Quantity  int    `json:"quantity"`
	Total     int    `json:"total"`
	PaymentID string `json:"payment_id,omitempty"`
	Created   string `json:"created,omitempty"`
}

// OrderRequest is what a customer sends to place an order.
type OrderRequest struct {
	CoffeeID  int    `json:"coffee_id"`
	Quantity  int    `json:"quantity"`
	Card      string `json:"card,omitempty"`
	PaymentID string `json:"payment_id,omitempty"`
}

// MaxBody is the largest request body any shop service reads.
const MaxBody = 64 << 10

// ListenAddr returns host:port for the group port label from the task's
// environment (NOMAD_IP_<label>, NOMAD_PORT_<label>; TETHER_ names too),
// or the value of SHOP_LISTEN when set (for running a service by hand).
func ListenAddr(label string, getenv func(string) string) (string, error) {
	if a := getenv("SHOP_LISTEN"); a != "" {
		return a, nil
	}
	for _, p := range []string{"NOMAD_", "TETHER_"} {
		port := getenv(p + "PORT_" + label)
		if port == "" {
			continue
		}
		ip := getenv(p + "IP_" + label)
		if ip == "" {
			ip = "127.0.0.1"
		}
		return net.JoinHostPort(ip, port), nil
	}
	return "", fmt.Errorf("%w: set NOMAD_PORT_%s (the job's group needs a port %q) or SHOP_LISTEN=host:port", ErrNoListenAddr, label, label)
}

// Serve serves h on addr until ctx ends or the process gets SIGTERM or
// SIGINT, then shuts down within 5 s.
func Serve(ctx context.Context, addr string, h http.Handler, logger *log.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: logger}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	logger.Printf("listening on %s", l.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// WriteJSON writes v as JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes {"error": msg} with status code.
func Error(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, map[string]string{"error": msg})
}

// ReadJSON decodes a request body of at most MaxBody bytes into v.
func ReadJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

// client is the HTTP client services use to call each other (never changed).
var client = &http.Client{Timeout: 5 * time.Second}

// Call sends a request with an optional JSON body to url and decodes a 2xx
// JSON answer into out. A non-2xx answer is an *UpstreamError.
func Call(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &UpstreamError{URL: url, Code: resp.StatusCode, Body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s answered with bad JSON: %w", url, err)
	}
	return nil
}

// UpstreamError is a non-2xx answer from another service.
type UpstreamError struct {
	URL  string
	Code int
	Body string
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.URL, e.Code, e.Body)
}

// StatusOf is the status to pass on for err: the upstream's 4xx, else 502.
func StatusOf(err error) int {
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.Code/100 == 4 {
		return ue.Code
	}
	return http.StatusBadGateway
}

// Getenv is os.Getenv, named for passing to ListenAddr.
func Getenv(k string) string { return os.Getenv(k) }
