package measure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/device"
)

// ProfileOptions say which server and model Profile measures, and how.
type ProfileOptions struct {
	Addr    string          // the server's address (client.ParseEndpoint's syntax)
	Conn    client.Settings // TLS and headers
	Model   string
	Batches []int // batch sizes to measure, each positive
	// Warmup and Duration are the warm-up and measured time per batch
	// size, each positive.
	Warmup, Duration time.Duration
	// Device names the accelerator in the profile.
	Device string
	// Progress, when not nil, gets a line per batch size measured.
	Progress io.Writer
	Logger   *slog.Logger
}

// Profile derives a device profile from a server: at each batch size, one
// client with one request in flight, and the service time of a call is
// the server's own mean compute time per call (input + infer + output,
// from its statistics over the measured window), so the client's and the
// network's share is left out. It measures what the server does: a real
// Triton on a GPU profiles the GPU, the embedded server this machine's
// CPU.
func Profile(ctx context.Context, o ProfileOptions) (*device.Profile, error) {
	if len(o.Batches) == 0 {
		return nil, errors.New("profile: no batch sizes")
	}
	for _, b := range o.Batches {
		if b <= 0 {
			return nil, fmt.Errorf("profile: batch size %d, want > 0", b)
		}
	}
	if o.Warmup <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("profile: warm-up %v and duration %v must be positive", o.Warmup, o.Duration)
	}
	c, err := client.Connect(o.Addr, o.Conn)
	if err != nil {
		return nil, err
	}
	md, err := c.ServerMetadata(ctx)
	c.Close()
	if err != nil {
		return nil, err
	}
	p := &device.Profile{Device: o.Device, Model: o.Model, Measured: time.Now().UTC().Format("2006-01-02"),
		What: fmt.Sprintf("mean server-side compute (input + infer + output) of one call at concurrency 1, from ModelStatistics deltas; %s %s at %s, measured with iaasbench profile",
			md.GetName(), md.GetVersion(), o.Addr)}
	for _, b := range o.Batches {
		m, err := Run(ctx, Options{Addrs: []string{o.Addr}, Conn: o.Conn, Model: o.Model, Clients: 1, BatchSize: b,
			Warmup: o.Warmup, Duration: o.Duration, NoTelemetry: true, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b, err)
		}
		if m.Server == nil || m.Server.ExecutionCount == 0 {
			return nil, fmt.Errorf("batch %d: the server reported no executions in its statistics", b)
		}
		us := m.Server.ComputeInputUS + m.Server.ComputeInferUS + m.Server.ComputeOutputUS
		p.Points = append(p.Points, device.ProfilePoint{Batch: b, P50US: us})
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "batch %5d: %8.1f us per call (client p50 %.1f us)\n", b, us, m.Latency.P50US)
		}
	}
	return p, nil
}
