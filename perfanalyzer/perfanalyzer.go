// Package perfanalyzer gives `iaasbench measure` perf_analyzer's habits: a range of
// concurrencies or request rates (start:end:step) measured as a small
// sweep, one point per value, resumable like any other, and
// perf_analyzer's summary of it. perf_analyzer's concurrency N is N
// requests in flight from one process; here it is one client keeping N
// requests in flight (closed loop), and a request rate R is one client
// sending R requests per second (open loop).
package perfanalyzer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
	"github.com/iaasbench/iaasbench/workload"
)

// Range is perf_analyzer's start:end:step.
type Range struct{ Start, End, Step float64 }

// maxValues bounds a range: more points than this is a typo, not a sweep.
const maxValues = 10000

// ParseRange reads start[:end[:step]] as perf_analyzer does: end
// defaults to start (one value), step to 1. integer ranges (concurrency)
// take whole numbers only. flag names the option in errors. An end of 0
// is perf_analyzer's search up to a latency threshold (see Search).
func ParseRange(flag, s string, integer bool) (Range, error) {
	parts := strings.Split(s, ":")
	if s == "" || len(parts) > 3 {
		return Range{}, fmt.Errorf("%s %q: want start[:end[:step]], e.g. 1:4:1", flag, s)
	}
	var v [3]float64
	names := [3]string{"start", "end", "step"}
	for i, p := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return Range{}, fmt.Errorf("%s %q: %s %q is not a number", flag, s, names[i], p)
		}
		if integer && x != math.Trunc(x) {
			return Range{}, fmt.Errorf("%s %q: %s %q is not a whole number", flag, s, names[i], p)
		}
		v[i] = x
	}
	r := Range{Start: v[0], End: v[0], Step: 1}
	if len(parts) > 1 {
		r.End = v[1]
	}
	if len(parts) > 2 {
		r.Step = v[2]
	}
	switch {
	case r.Start <= 0:
		return Range{}, fmt.Errorf("%s %q: start must be > 0", flag, s)
	case !r.Unbounded() && r.End < r.Start:
		return Range{}, fmt.Errorf("%s %q: end %g is below start %g", flag, s, r.End, r.Start)
	case r.Step <= 0:
		return Range{}, fmt.Errorf("%s %q: step must be > 0", flag, s)
	}
	if n := (r.End-r.Start)/r.Step + 1; !r.Unbounded() && n > maxValues {
		return Range{}, fmt.Errorf("%s %q: %.0f values, more than %d", flag, s, n, maxValues)
	}
	return r, nil
}

// Unbounded says the end is 0: perf_analyzer's search that goes on until
// the latency threshold.
func (r Range) Unbounded() bool { return r.End == 0 }

// at is the i-th value, start + i·step, rounded so that 0.1 steps stay
// 0.1 steps.
func (r Range) at(i int) float64 {
	return math.Round((r.Start+float64(i)*r.Step)*1e9) / 1e9
}

// contains says v is not past the end (a rounding error must not drop
// the end).
func (r Range) contains(v float64) bool {
	return v <= r.End+1e-9*math.Max(1, math.Abs(r.End))
}

// Values are start, start+step, ... up to end; none when unbounded.
func (r Range) Values() []float64 {
	var out []float64
	for i := 0; !r.Unbounded(); i++ {
		v := r.at(i)
		if !r.contains(v) {
			break
		}
		out = append(out, v)
	}
	return out
}

// Sweep is a range measured as a sweep.
type Sweep struct {
	// Base is every measurement option but the servers and the load,
	// which each point sets.
	Base measure.Options
	// Values are the concurrencies (closed loop) or request rates (open
	// loop, RequestRate) to measure, one point each.
	Values      []float64
	RequestRate bool
	// Search, when active, chooses which of Values to measure (and, for
	// a binary search, values between them) from the latencies measured.
	Search *Search
	// Addrs are the servers; Embedded says they are the embedded server
	// this process started (its ports change between runs, so they are
	// left out of what identifies the sweep).
	Addrs       []string
	MetricsURLs []string
	Embedded    bool
	// ResultsPath is the results file; empty is DefaultPath.
	ResultsPath string
	Stop        <-chan struct{}
	Progress    io.Writer
	Logger      *slog.Logger
	Version     string
}

// Scenario is the sweep's scenario: one client, the rate dimension over
// the values (concurrency per client in a closed loop, request rate in
// an open one), the measurement settings of Base.
func (s *Sweep) Scenario() *scenarios.Scenario {
	o := s.Base
	sc := scenarios.Default()
	sc.Name = "measure-" + o.Model
	sc.Description = "perf_analyzer-style range of iaasbench measure"
	sc.Target.Kind = scenarios.TargetEmbedded
	if !s.Embedded {
		sc.Target.Kind = scenarios.TargetRemote
		sc.Target.URLs = s.Addrs
		sc.Target.MetricsURLs = s.MetricsURLs
	}
	sc.Workload.Model = o.Model
	sc.Workload.Mode = workload.ModeClosed
	sc.Workload.RPC = o.RPC
	if sc.Workload.RPC == "" {
		sc.Workload.RPC = workload.RPCUnary
	}
	if s.RequestRate {
		sc.Workload.Mode = workload.ModeOpen
		sc.Workload.Arrival = o.Arrival
		if sc.Workload.Arrival == "" {
			sc.Workload.Arrival = workload.ArrivalConstant
		}
	}
	sc.Dimensions.Rate = scenarios.ValuesOf(s.Values...)
	sc.Dimensions.BatchSize = scenarios.ValuesOf(float64(max(o.BatchSize, 1)))
	sc.Measure.Warmup = scenarios.Duration(o.Warmup)
	sc.Measure.Window = scenarios.Duration(o.Window)
	sc.Measure.StabilityTolerance = o.StabilityTolerance
	sc.Measure.StableWindows = o.StableWindows
	sc.Measure.MaxWindows = o.MaxWindows
	sc.Measure.Duration = scenarios.Duration(o.Duration)
	sc.Measure.Requests = int(o.Requests)
	return sc
}

// identity is what makes two runs the same sweep: the scenario and every
// option that changes the figures but is not in it.
func (s *Sweep) identity(sc *scenarios.Scenario) string {
	o := s.Base
	var threshold int64
	var binary bool
	if s.searching() {
		threshold, binary = s.Search.ThresholdMS, s.Search.Binary
	}
	b, _ := json.Marshal(struct {
		Scenario, Version                  string
		Shapes                             map[string][]int64
		StringLength                       int
		StringData                         string
		Percentile                         int
		WindowRequests                     int64
		Seed                               uint64
		Input                              string
		Headers                            []string
		HTTPEncoding                       string
		SharedConnection, Sequence, NoTele bool
		// A search's settings choose the values; empty for a plain range
		// so that its files keep their names.
		LatencyThresholdMS int64 `json:",omitempty"`
		BinarySearch       bool  `json:",omitempty"`
	}{sc.Hash(), o.Version, o.Shapes, o.StringLength, o.StringData, o.Percentile, o.WindowRequests, o.Seed, o.InputData,
		headerNames(o), string(o.Conn.HTTPEncoding), o.SharedConnection, o.Sequence, o.NoTelemetry, threshold, binary})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

func (s *Sweep) searching() bool { return s.Search != nil && s.Search.Active() }

func headerNames(o measure.Options) []string {
	var names []string
	for _, h := range o.Conn.Headers {
		names = append(names, strings.ToLower(h.Name))
	}
	return names
}

// DefaultPath is the results file of a range: one per model and set of
// options under the sweep's default directory, so that the same command
// resumes and another one starts afresh.
func (s *Sweep) DefaultPath() string {
	sc := s.Scenario()
	return filepath.Join(sweep.DefaultDir, fmt.Sprintf("%s-%s.jsonl", sanitize(sc.Name), s.identity(sc)))
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, name)
}

// fixed is a target of servers that are already running as they should:
// a range changes the load only, never the server's configuration.
type fixed struct{ dep sweep.Deployment }

func (f fixed) Prepare(context.Context, results.Point) (*sweep.Deployment, error) {
	d := f.dep
	return &d, nil
}

func (fixed) Close() error { return nil }

// Run measures every value (or those the Search chooses), resuming a
// results file that has some of them, and returns the sweep's summary
// with a perf_analyzer row per value measured ok (in the order of the
// values; for a search, those under the threshold, ascending).
func (s *Sweep) Run(ctx context.Context) (*sweep.Summary, []pacsv.Row, error) {
	if len(s.Values) == 0 {
		return nil, nil, errors.New("range: no values")
	}
	sc := s.Scenario()
	path := s.ResultsPath
	if path == "" {
		path = s.DefaultPath()
	}
	base := s.Base
	measurer := func(ctx context.Context, dep *sweep.Deployment, _ *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		o := base
		o.Addrs, o.MetricsURLs = dep.Addrs, dep.MetricsURLs
		o.Clients = 1
		if s.RequestRate {
			o.Mode, o.Rate = workload.ModeOpen, p.Rate
			if o.Arrival == "" {
				o.Arrival = workload.ArrivalConstant
			}
		} else {
			o.Mode, o.Arrival, o.Concurrency = workload.ModeClosed, "", int(p.Rate)
		}
		return measure.Run(ctx, o)
	}
	opts := sweep.DefaultOptions()
	opts.Scenario, opts.ResultsPath, opts.Measure = sc, path, measurer
	// perf_analyzer does not retry a failed point either.
	opts.Attempts = 1
	opts.Target = fixed{sweep.Deployment{Addrs: s.Addrs, MetricsURLs: s.MetricsURLs}}
	opts.Stop, opts.Progress, opts.Logger, opts.Version = s.Stop, s.Progress, s.Logger, s.Version
	if s.searching() {
		opts.Strategy = s.Search.Strategy()
	}
	sum, err := sweep.Run(ctx, opts)
	if sum == nil {
		return nil, nil, err
	}
	if s.searching() {
		return sum, s.Search.Rows(sum.Records), err
	}
	return sum, Rows(sum.Records, s.Values), err
}

// Rows are the ok measurements of recs, one per value (the last ok
// record of each), in the order of values.
func Rows(recs []results.Record, values []float64) []pacsv.Row {
	last := map[float64]*results.Measurement{}
	for _, r := range recs {
		if r.Kind == results.KindPoint && r.Status == results.StatusOK && r.Measurement != nil {
			last[r.Point.Rate] = r.Measurement
		}
	}
	var rows []pacsv.Row
	for _, v := range values {
		if m := last[v]; m != nil {
			load, _ := pacsv.LoadOf(m, results.Point{Clients: 1, Servers: 1, Rate: v})
			rows = append(rows, pacsv.Row{Load: load, M: m})
		}
	}
	return rows
}

// WriteSummary prints perf_analyzer's closing summary: one line per
// value with its throughput and the latency stability was judged by
// (the mean, or the --percentile asked for), in whole microseconds.
func WriteSummary(w io.Writer, rows []pacsv.Row, o pacsv.Options) {
	if o.Percentile > 0 {
		fmt.Fprintf(w, "Inferences/Second vs. Client p%d Batch Latency\n", o.Percentile)
	} else {
		fmt.Fprintln(w, "Inferences/Second vs. Client Average Batch Latency")
	}
	for _, r := range rows {
		lat := r.M.Latency.MeanUS
		if o.Percentile > 0 {
			lat = pacsv.LatencyAt(r.M, o.Percentile)
		}
		load := "Concurrency: " + strconv.FormatInt(int64(math.Round(r.Load)), 10)
		if o.RequestRate {
			load = "Request Rate: " + strconv.FormatFloat(r.Load, 'g', 6, 64)
		}
		fmt.Fprintf(w, "%s, throughput: %s infer/sec, latency %d usec\n", load, strconv.FormatFloat(r.M.ThroughputIPS, 'g', 6, 64), int64(max(0, lat)))
	}
}
