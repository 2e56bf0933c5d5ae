package podman

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tether-edge/tether/drivers"
	"github.com/tether-edge/tether/drivers/logfile"
)

// DefaultSocket is the rootful Podman API socket (podman.socket's).
const DefaultSocket = "/run/podman/podman.sock"

// Options configure the driver. The zero value is the production setup.
type Options struct {
	// Socket is the Podman API's unix socket: a path or unix:///path.
	// Default: $CONTAINER_HOST if it is a unix:// URL, else DefaultSocket.
	Socket string
	Logger *slog.Logger
	// RequestTimeout bounds each API call except pulls, waits and log
	// streams (default 1 minute).
	RequestTimeout time.Duration
	// PullTimeout bounds an image pull (default 10 minutes).
	PullTimeout time.Duration
	// LostContactTimeout is how long a handle keeps retrying a Podman API
	// that stopped answering before its Wait yields ErrLostContact
	// (default 1 minute).
	LostContactTimeout time.Duration
	// DefaultRegistry is the registry of an image that names none:
	// "redis:7" runs docker.io/library/redis:7 and "org/app:1"
	// docker.io/org/app:1 with the default, DefaultRegistry. Check it
	// with CheckDefaultRegistry; NoDefaultRegistry leaves short names to
	// Podman's own rules.
	DefaultRegistry string
}

// Driver runs tasks as Podman containers. It holds no mutable state; its
// methods are safe for concurrent use.
type Driver struct {
	opts   Options
	socket string
	client *client
	log    *slog.Logger
}

var _ drivers.Driver = (*Driver)(nil)

// New returns a podman driver. It does not contact Podman; Detect does.
func New(opts Options) *Driver {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = time.Minute
	}
	if opts.PullTimeout <= 0 {
		opts.PullTimeout = 10 * time.Minute
	}
	if opts.LostContactTimeout <= 0 {
		opts.LostContactTimeout = time.Minute
	}
	if opts.DefaultRegistry == "" {
		opts.DefaultRegistry = DefaultRegistry
	}
	socket := socketPath(opts.Socket, os.Getenv("CONTAINER_HOST"))
	return &Driver{
		opts:   opts,
		socket: socket,
		client: newClient(socket, opts.RequestTimeout),
		log:    opts.Logger.With("driver", "podman"),
	}
}

// socketPath picks the socket: the option, else a unix:// CONTAINER_HOST,
// else DefaultSocket.
func socketPath(opt, containerHost string) string {
	for _, s := range []string{opt, containerHost} {
		if s == "" {
			continue
		}
		if p, ok := strings.CutPrefix(s, "unix://"); ok {
			return p
		}
		if s == opt && !strings.Contains(s, "://") {
			return s
		}
	}
	return DefaultSocket
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return "podman" }

// Socket is the unix socket the driver talks to.
func (d *Driver) Socket() string { return d.socket }

// Detect implements drivers.Driver: driver.podman = "1" and
// driver.podman.version when the API answers, else ErrUnavailable with the
// reason and the fix.
func (d *Driver) Detect(ctx context.Context) (map[string]string, error) {
	if err := d.client.ping(ctx); err != nil {
		return nil, fmt.Errorf("%w: podman driver: the Podman API on %s does not answer (%v); start it with `podman system service --time=0 unix://%s` or `systemctl enable --now podman.socket`, or set the agent's podman socket",
			drivers.ErrUnavailable, d.socket, err, d.socket)
	}
	v, err := d.client.version(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: podman driver: version of the Podman API on %s: %v", drivers.ErrUnavailable, d.socket, err)
	}
	if !strings.HasPrefix(v.Version, "4.") && !strings.HasPrefix(v.Version, "5.") {
		return nil, fmt.Errorf("%w: podman driver: Podman %s on %s is not supported (need 4.0 or later)", drivers.ErrUnavailable, v.Version, d.socket)
	}
	return map[string]string{"driver.podman": "1", "driver.podman.version": v.Version}, nil
}

// Start implements drivers.Driver: make sure the image is there, replace
// what is left of an earlier run of the task, create and start the
// container, and follow its logs.
func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tc, err := parseTaskConfig(cfg)
	if err != nil {
		return nil, err
	}
	written := tc.image
	tc.image = resolveImage(tc.image, d.opts.DefaultRegistry) // pulled, and created from, by this name
	if err := d.ensureImage(ctx, tc.image, written, tc.forcePull); err != nil {
		return nil, err
	}
	spec := buildSpec(cfg, tc)
	if err := d.client.remove(ctx, spec.Name); err != nil {
		return nil, fmt.Errorf("podman driver: remove the earlier container %s of task %s: %w", spec.Name, cfg.ID, err)
	}
	id, err := d.client.create(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("podman driver: create container for task %s: %w", cfg.ID, err)
	}
	cursorPath := logCursorPath(cfg)
	lp := cfg.Logs.WithDefaults()
	lc, err := openLogCopier(d.client, id, cfg.StdoutPath, cfg.StderrPath, cursorPath, lp, false, d.log)
	if err != nil {
		d.removeQuietly(id)
		return nil, err
	}
	if err := d.client.start(ctx, id); err != nil {
		lc.close()
		d.removeQuietly(id)
		return nil, fmt.Errorf("podman driver: start container for task %s: %w", cfg.ID, err)
	}
	st := drivers.HandleState{
		Driver:    d.Name(),
		TaskID:    cfg.ID,
		StartedAt: time.Now().UnixMilli(),
		Data: stateData{
			ID: id, Name: spec.Name, Stdout: cfg.StdoutPath, Stderr: cfg.StderrPath, Cursor: cursorPath,
			LogMaxFiles: lp.MaxFiles, LogMaxFileSize: lp.MaxFileSize,
		}.encode(),
	}
	d.log.Info("podman driver: started", "task", cfg.ID, "container", spec.Name, "id", id[:12], "image", tc.image)
	return newHandle(d, id, spec.Name, st, lc), nil
}

// logCursorPath is where a task's log cursor lives: in its task dir, else
// next to its stdout log.
func logCursorPath(cfg *drivers.TaskConfig) string {
	switch {
	case cfg.TaskDir != "":
		return filepath.Join(cfg.TaskDir, ".podman-logs.cursor")
	case cfg.StdoutPath != "":
		return cfg.StdoutPath + ".cursor"
	}
	return ""
}

func (d *Driver) removeQuietly(id string) {
	if err := d.client.remove(context.Background(), id); err != nil {
		d.log.Warn("podman driver: remove container after a failed start", "id", id, "error", err)
	}
}

// ensureImage uses a local image, pulling only if it is missing or
// forcePull is set. written is the image as the job wrote it, before
// resolveImage made it image.
func (d *Driver) ensureImage(ctx context.Context, image, written string, forcePull bool) error {
	if !forcePull {
		ok, err := d.client.imageExists(ctx, image)
		if err != nil {
			return fmt.Errorf("podman driver: look up image %s: %w", image, err)
		}
		if ok {
			return nil
		}
		if err := d.checkNotShadowed(ctx, image, written); err != nil {
			return err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, d.opts.PullTimeout)
	defer cancel()
	if err := d.client.pull(pctx, image); err != nil {
		if forcePull {
			if ok, _ := d.client.imageExists(ctx, image); ok {
				d.log.Warn("podman driver: force_pull failed, using the local image", "image", image, "error", err)
				return nil
			}
		}
		return fmt.Errorf("%w: image %s not found locally and pull failed: %v; build or load it with podman load/import", ErrImageNotFound, image, err)
	}
	return nil
}

// Recover implements drivers.Driver: re-attach to the container named in
// st. A container that has exited yields its exit code at once; output it
// wrote while no agent was watching is appended to the log files.
func (d *Driver) Recover(ctx context.Context, st drivers.HandleState) (drivers.Handle, error) {
	s, err := decodeState(st.Data)
	if err != nil {
		return nil, err
	}
	r, err := d.client.inspect(ctx, s.ID)
	if isNotFound(err) {
		return nil, fmt.Errorf("podman driver: container %s of task %s: %w", s.Name, st.TaskID, drivers.ErrTaskGone)
	}
	if err != nil {
		return nil, fmt.Errorf("podman driver: re-attach to container %s of task %s: %w", s.Name, st.TaskID, err)
	}
	if s.LogMaxFiles == 0 { // started by an agent before log rotation: its paths name file 0
		s.Stdout, s.Stderr = strings.TrimSuffix(s.Stdout, ".0"), strings.TrimSuffix(s.Stderr, ".0")
	}
	lp := logfile.Policy{MaxFiles: s.LogMaxFiles, MaxFileSize: s.LogMaxFileSize}
	lc, err := openLogCopier(d.client, s.ID, s.Stdout, s.Stderr, s.Cursor, lp, true, d.log)
	if err != nil {
		return nil, err
	}
	d.log.Info("podman driver: re-attached", "task", st.TaskID, "container", s.Name, "status", r.State.Status)
	return newHandle(d, s.ID, s.Name, st, lc), nil
}

// Cleanup removes the containers this driver started (they carry a
// tether.alloc_id label) whose allocation known does not recognise. The
// agent calls it on start, after recovering its tasks. It returns the ids
// removed; it keeps going after a failure and returns the first error.
func (d *Driver) Cleanup(ctx context.Context, known func(allocID string) bool) (removed []string, err error) {
	list, err := d.client.list(ctx, labelAllocID)
	if err != nil {
		return nil, fmt.Errorf("podman driver: list tether containers: %w", err)
	}
	var errs []error
	for _, c := range list {
		alloc, ok := c.Labels[labelAllocID]
		if !ok || known(alloc) {
			continue
		}
		if err := d.client.remove(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Errorf("podman driver: remove container %s of unknown alloc %s: %w", c.ID, alloc, err))
			continue
		}
		d.log.Info("podman driver: removed container of an unknown allocation", "container", strings.Join(c.Names, ","), "alloc", alloc)
		removed = append(removed, c.ID)
	}
	if len(errs) > 0 {
		return removed, errs[0]
	}
	return removed, nil
}
