package sweep

import (
	"context"
	"io"
	"log/slog"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// MeasureWith is the measurer that drives the point with package measure.
func MeasureWith(log *slog.Logger, progress io.Writer) Measurer {
	return func(ctx context.Context, dep *Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		return measure.Run(ctx, MeasureOptions(dep, s, p, log, progress))
	}
}

// MeasureOptions maps a scenario's workload and a point onto measure's
// options. The clients dimension counts clients per server (n servers × k
// clients, as in the talk's offline pipeline); what rate means is the
// workload's (scenarios.Workload.ClientLoad).
func MeasureOptions(dep *Deployment, s *scenarios.Scenario, p results.Point, log *slog.Logger, progress io.Writer) measure.Options {
	w := s.Workload
	servers := max(len(dep.Addrs), 1)
	o := measure.Options{
		Addrs:            dep.Addrs,
		Conn:             s.Settings(),
		MetricsURLs:      dep.MetricsURLs,
		Model:            w.Model,
		Clients:          max(p.Clients, 1) * servers,
		SharedConnection: w.SharedConnection,
		Mode:             w.Mode,
		RPC:              w.RPC,
		Arrival:          w.Arrival,
		BatchSize:        max(p.BatchSize, 1),
		Sequence:         w.Sequence,
		SampleRateHz:     w.Stream.SampleRateHz,
		DataSeconds:      w.DataSeconds,

		Warmup:             s.Measure.Warmup.D(), // validated >= 0; zero is none in both
		Window:             s.Measure.Window.D(),
		StabilityTolerance: s.Measure.StabilityTolerance,
		StableWindows:      s.Measure.StableWindows,
		MaxWindows:         s.Measure.MaxWindows,
		Duration:           s.Measure.Duration.D(),
		Requests:           int64(s.Measure.Requests),
		Progress:           progress,
		Logger:             log,
	}
	l := w.ClientLoad(p)
	o.Concurrency, o.Rate, o.InferenceRate = l.Concurrency, l.Rate, l.SamplingRate
	return o
}

// MeasureWithAgents spreads each point's clients over the k agents of a
// coordinator and merges their results exactly (see package agent).
func MeasureWithAgents(c *agent.Coordinator, k int, log *slog.Logger) Measurer {
	return func(ctx context.Context, dep *Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		return c.Measure(ctx, MeasureOptions(dep, s, p, log, nil), k, 0)
	}
}
