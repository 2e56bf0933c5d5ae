//go:build !linux

package exec

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/tether-edge/tether/drivers"
)

// Options configure the driver; on this OS the exec driver is unavailable.
type Options struct {
	Logger         *slog.Logger
	CgroupMounts   []string
	CgroupParent   string
	DisableCgroups bool
}

// Driver is the exec driver; it only runs tasks on Linux.
type Driver struct{}

// New returns an exec driver that reports itself unavailable.
func New(logger *slog.Logger) *Driver { return &Driver{} }

// NewWithOptions returns an exec driver that reports itself unavailable.
func NewWithOptions(o Options) *Driver { return &Driver{} }

func (d *Driver) Name() string { return "exec" }

func (d *Driver) Detect(ctx context.Context) (map[string]string, error) {
	return nil, fmt.Errorf("exec driver needs Linux (this is %s): %w", runtime.GOOS, drivers.ErrUnavailable)
}

func (d *Driver) Start(ctx context.Context, cfg *drivers.TaskConfig) (drivers.Handle, error) {
	return nil, fmt.Errorf("exec driver needs Linux (this is %s): %w", runtime.GOOS, drivers.ErrUnavailable)
}

func (d *Driver) Recover(ctx context.Context, st drivers.HandleState) (drivers.Handle, error) {
	return nil, fmt.Errorf("exec driver needs Linux: %w", drivers.ErrTaskGone)
}
