// Package measure is iaasbench's load generator: it drives one
// configuration of a served model over Triton's gRPC protocol (closed or
// open loop, unary or streaming RPCs, stateless requests or stateful
// sequences), records the latency of every request in mergeable
// histograms, reads the server's statistics and telemetry beside the load,
// and returns one results.Measurement. The sweep calls Run at every point;
// `iaasbench measure` calls it once.
//
// The request loop is the hottest code in the project: inputs are made
// once, each in-flight slot owns a request message built once and reused,
// and recording a latency takes a histogram increment under an
// uncontended lock.
package measure

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/client"
	"github.com/iaasbench/iaasbench/internal/telemetry"
	"github.com/iaasbench/iaasbench/workload"
)

// Options configure one measurement. The zero value of most fields means
// its default; Warmup's zero means none, so start from DefaultOptions for
// the default warm-up.
type Options struct {
	// Addrs are the servers' addresses in client.ParseEndpoint's syntax
	// (host:port or grpc:// for gRPC, grpcs:// over TLS, http:// or
	// https:// for KServe v2 REST); client i talks to
	// Addrs[i % len(Addrs)]. At least one is required, all of one
	// protocol.
	Addrs []string
	// Conn says how to reach them: TLS, headers, the HTTP tensor
	// encoding. It travels to load agents with the rest of the options;
	// header values never enter a Measurement.
	Conn client.Settings
	// MetricsURLs are Prometheus endpoints (Triton's :8002/metrics) to
	// scrape beside the load; none means no server-side telemetry.
	// perf_analyzer's scheme-less form (localhost:8002/metrics) is taken.
	MetricsURLs []string

	Model   string
	Version string // "" is the latest

	// Clients is the total number of clients (default 1); each is an
	// independent stream of requests with its own slots.
	Clients int
	// Concurrency is the number of requests each client keeps in flight
	// (closed loop, default 1), or the most it may have in flight while
	// following its schedule (open loop, default 64, at least r for frame
	// arrivals). Requests a full client cannot send yet are sent late and
	// still timed from their intended send time.
	Concurrency int
	// SharedConnection makes all clients of a server share one gRPC
	// connection; by default each client has its own.
	SharedConnection bool

	Mode    string // closed (default) or open
	RPC     string // unary (default) or stream
	Arrival string // open loop: constant (default), poisson or frames
	// Rate is the open-loop request rate of each client, in requests per
	// second: with frames, Rate requests arrive together at every whole
	// second. For sequences it defaults to InferenceRate.
	Rate float64
	// BatchSize is the batch dimension of each request (default 1;
	// models with max_batch_size 0 take 1 only).
	BatchSize int
	// Shapes override input shapes without the batch dimension, as
	// perf_analyzer's --shape does, for inputs with variable dimensions.
	Shapes map[string][]int64
	// StringLength is the length of the random strings that fill BYTES
	// inputs (default 128, as perf_analyzer's --string-length);
	// StringData, when set, fills every BYTES element instead.
	StringLength int
	StringData   string
	// InputData is perf_analyzer's --input-data: "random" (the default
	// when empty), "zero", or the path of a JSON file or of a directory
	// of raw files, one per input (package inputdata).
	InputData string

	// Sequence makes each client one stateful sequence (correlation id
	// unique per client, start on its first request, end on its last)
	// that sends fs/r new samples per channel per request, as the
	// talk's snapshotter expects.
	Sequence bool
	// SampleRateHz is fs, the sample rate of the data stream (default 4096).
	SampleRateHz int
	// InferenceRate is r, the inference sampling rate: requests per
	// second of data. Each update carries fs/r samples per channel and
	// DataRate is throughput / r. Defaults to Rate.
	InferenceRate float64
	// DataSeconds fixes the amount of data (offline): the clients share
	// round(DataSeconds×r) requests and stop when they are done. Warm-up
	// requests are part of the data but not of the figures.
	DataSeconds float64
	// SequenceIDBase offsets the correlation ids (client i uses
	// base+i+1); 0 picks one from the clock so that concurrent
	// measurements on the same server do not collide.
	SequenceIDBase int64

	// Warmup runs before anything is recorded (DefaultOptions: 1s; zero:
	// none).
	Warmup time.Duration
	// Window is the length of one measurement window (default 1s).
	Window time.Duration
	// StabilityTolerance, StableWindows and MaxWindows: measure windows
	// until StableWindows consecutive ones have throughput and p99 within
	// StabilityTolerance of their mean (defaults 0.1, 3, 10). The figures
	// then cover those windows; after MaxWindows without that, they cover
	// all windows and Stable is false.
	StabilityTolerance float64
	StableWindows      int
	MaxWindows         int
	// Percentile, when set (1..99), replaces p99 in the stability
	// criterion and is reported as Latency.PercentileUS, as
	// perf_analyzer's --percentile.
	Percentile int
	// WindowRequests, when set, makes each window last until that many
	// requests have completed in it, and at least Window
	// (perf_analyzer's count_windows mode).
	WindowRequests int64
	// Duration fixes the measured time instead (windows are still
	// recorded); Requests fixes the number of requests sent after
	// warm-up. Either overrides the stability criterion.
	Duration time.Duration
	Requests int64

	// ErrorGrace is how long a client may see nothing but failed requests
	// before the measurement stops with an error (default 500ms).
	ErrorGrace time.Duration
	// DrainTimeout bounds the wait for requests in flight at the end
	// (default 5s); they are then cancelled.
	DrainTimeout time.Duration

	// Samplers replace the default telemetry (NVML, host CPU and a
	// scraper per MetricsURLs); a sampler starts only once, so pass fresh
	// ones to every Run. NoTelemetry switches telemetry off.
	Samplers          []telemetry.Sampler `json:"-"`
	NoTelemetry       bool
	TelemetryInterval time.Duration

	// Progress, when not nil, shows a live progress bar there.
	Progress io.Writer `json:"-"`
	// Seed makes input data and Poisson arrivals reproducible (default 1).
	Seed   uint64
	Logger *slog.Logger `json:"-"`
}

// DefaultWarmup is DefaultOptions' warm-up.
const DefaultWarmup = time.Second

// DefaultOptions are the options `iaasbench measure` starts from: a 1 s
// warm-up, 1 s windows, stable after 3 windows within 10% (at most 10).
// Every value set on them is used as given.
func DefaultOptions() Options {
	return Options{Warmup: DefaultWarmup, Window: time.Second, StabilityTolerance: 0.1, StableWindows: 3, MaxWindows: 10}
}

// withDefaults returns a copy with defaults filled in, or an error naming
// the first bad option.
func (o Options) withDefaults() (Options, error) {
	if len(o.Addrs) == 0 {
		return o, fmt.Errorf("options: no server address (Addrs)")
	}
	for i, a := range o.Addrs {
		if strings.TrimSpace(a) == "" {
			return o, fmt.Errorf("options: Addrs[%d] is empty", i)
		}
	}
	if o.Model == "" {
		return o, fmt.Errorf("options: no model")
	}
	var proto client.Protocol
	for i, a := range o.Addrs {
		e, err := client.ParseEndpoint(a)
		if err != nil {
			return o, fmt.Errorf("options: server %d: %w", i+1, err)
		}
		if i > 0 && e.Protocol != proto {
			return o, fmt.Errorf("options: servers %s and %s speak different protocols: drive one protocol per measurement", o.Addrs[0], a)
		}
		proto = e.Protocol
		if err := o.Conn.Check(e); err != nil {
			return o, fmt.Errorf("options: server %s: %w", e, err)
		}
	}
	if len(o.MetricsURLs) > 0 {
		urls := make([]string, len(o.MetricsURLs)) // the caller's slice stays as given
		for i, u := range o.MetricsURLs {
			n, err := telemetry.MetricsURL(u)
			if err != nil {
				return o, fmt.Errorf("options: metrics URL: %w", err)
			}
			urls[i] = n
		}
		o.MetricsURLs = urls
	}
	if o.StringLength < 0 {
		return o, fmt.Errorf("options: string length %d, want > 0", o.StringLength)
	}
	if o.StringLength == 0 {
		o.StringLength = 128
	}
	if o.Mode == "" {
		o.Mode = workload.ModeClosed
	}
	if o.RPC == "" {
		o.RPC = workload.RPCUnary
	}
	switch o.Mode {
	case workload.ModeClosed:
		if o.Arrival != "" {
			return o, fmt.Errorf("options: arrival %q is for open loop; mode is closed", o.Arrival)
		}
	case workload.ModeOpen:
		if o.Arrival == "" {
			o.Arrival = workload.ArrivalConstant
		}
		switch o.Arrival {
		case workload.ArrivalConstant, workload.ArrivalPoisson, workload.ArrivalFrames:
		default:
			return o, fmt.Errorf("options: arrival %q, want %s, %s or %s", o.Arrival, workload.ArrivalConstant, workload.ArrivalPoisson, workload.ArrivalFrames)
		}
	default:
		return o, fmt.Errorf("options: mode %q, want %s or %s", o.Mode, workload.ModeClosed, workload.ModeOpen)
	}
	if o.RPC != workload.RPCUnary && o.RPC != workload.RPCStream {
		return o, fmt.Errorf("options: rpc %q, want %s or %s", o.RPC, workload.RPCUnary, workload.RPCStream)
	}
	if o.RPC == workload.RPCStream && proto == client.HTTP {
		return o, fmt.Errorf("options: rpc %s is gRPC's bidirectional ModelStreamInfer; KServe v2 REST (%s) has no streaming: use rpc %s or a grpc:// address", workload.RPCStream, o.Addrs[0], workload.RPCUnary)
	}
	if o.Clients == 0 {
		o.Clients = 1
	}
	if o.Clients < 0 {
		return o, fmt.Errorf("options: clients %d, want > 0", o.Clients)
	}
	if o.BatchSize == 0 {
		o.BatchSize = 1
	}
	if o.BatchSize < 0 {
		return o, fmt.Errorf("options: batch size %d, want > 0", o.BatchSize)
	}
	if o.Sequence {
		if o.SampleRateHz == 0 {
			o.SampleRateHz = 4096
		}
		if o.InferenceRate == 0 {
			o.InferenceRate = o.Rate
		}
		if o.Rate == 0 {
			o.Rate = o.InferenceRate
		}
		if !(o.InferenceRate > 0) || math.IsInf(o.InferenceRate, 0) {
			return o, fmt.Errorf("options: a sequence workload needs the inference sampling rate r (InferenceRate or Rate) > 0")
		}
		if o.SampleRateHz < 0 || float64(o.SampleRateHz) < o.InferenceRate {
			return o, fmt.Errorf("options: sample rate %d Hz below inference rate %g: updates would carry no samples", o.SampleRateHz, o.InferenceRate)
		}
		if o.BatchSize != 1 {
			return o, fmt.Errorf("options: batch size %d with sequences: a sequence sends one update at a time (batch size 1)", o.BatchSize)
		}
	}
	if o.DataSeconds < 0 || math.IsNaN(o.DataSeconds) {
		return o, fmt.Errorf("options: data seconds %g, want >= 0", o.DataSeconds)
	}
	if o.DataSeconds > 0 && o.InferenceRate <= 0 {
		return o, fmt.Errorf("options: data seconds need the inference sampling rate r (InferenceRate)")
	}
	if o.Mode == workload.ModeOpen && (!(o.Rate > 0) || math.IsInf(o.Rate, 0)) {
		return o, fmt.Errorf("options: open loop needs a rate > 0 requests per second per client, got %g", o.Rate)
	}
	if o.Concurrency < 0 {
		return o, fmt.Errorf("options: concurrency %d, want > 0", o.Concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
		if o.Mode == workload.ModeOpen {
			o.Concurrency = 64
			if o.Arrival == workload.ArrivalFrames {
				o.Concurrency = max(64, int(math.Ceil(o.Rate)))
			}
		}
	}
	if o.Sequence && o.RPC == workload.RPCUnary && o.Concurrency > 1 {
		if o.Mode == workload.ModeClosed {
			return o, fmt.Errorf("options: a sequence over unary RPCs needs concurrency 1 per client (its requests must arrive in order); use rpc %s for more in flight", workload.RPCStream)
		}
		o.Concurrency = 1 // open loop: late requests wait, in order
	}
	if o.Warmup < 0 {
		return o, fmt.Errorf("options: warm-up %v, want >= 0 (0: none)", o.Warmup)
	}
	if o.Window == 0 {
		o.Window = time.Second
	}
	if o.Window < 0 {
		return o, fmt.Errorf("options: window %v, want > 0", o.Window)
	}
	if o.StabilityTolerance == 0 {
		o.StabilityTolerance = 0.1
	}
	if o.StableWindows == 0 {
		o.StableWindows = 3
	}
	if o.MaxWindows == 0 {
		o.MaxWindows = 10
	}
	if o.StabilityTolerance < 0 || o.StableWindows < 1 || o.MaxWindows < o.StableWindows {
		return o, fmt.Errorf("options: stability: tolerance %g, stable windows %d, max windows %d (want tolerance >= 0 and 1 <= stable <= max)",
			o.StabilityTolerance, o.StableWindows, o.MaxWindows)
	}
	if !isGenerated(o.InputData) {
		// A file or directory: read against the model's inputs once its
		// metadata is known; a path that is not there fails here, before
		// any connection.
		if _, err := os.Stat(o.InputData); err != nil {
			return o, fmt.Errorf("options: input data (random, zero, a JSON file or a directory): %w", err)
		}
	}
	if o.Percentile < 0 || o.Percentile > 99 {
		return o, fmt.Errorf("options: percentile %d, want 1..99 (0: p99 for stability, none reported)", o.Percentile)
	}
	if o.WindowRequests < 0 {
		return o, fmt.Errorf("options: window requests %d, want >= 0", o.WindowRequests)
	}
	if o.Duration < 0 || o.Requests < 0 {
		return o, fmt.Errorf("options: duration %v and requests %d must not be negative", o.Duration, o.Requests)
	}
	if o.ErrorGrace <= 0 {
		o.ErrorGrace = 500 * time.Millisecond
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.SequenceIDBase == 0 {
		// Room for 2^16 clients below a clock-derived base.
		o.SequenceIDBase = (time.Now().UnixNano() & 0x7fffffff) << 16
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// fixedLength reports whether the amount of load is fixed (duration,
// requests or data) rather than decided by the stability criterion.
func (o *Options) fixedLength() bool {
	return o.Duration > 0 || o.Requests > 0 || o.DataSeconds > 0
}

// updateSamples is fs/r, the new samples per channel of one sequence update.
func (o *Options) updateSamples() int64 {
	return max(1, int64(math.Round(float64(o.SampleRateHz)/o.InferenceRate)))
}
