package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/perfanalyzer"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/results/pacsv"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/sweep"
	"github.com/iaasbench/iaasbench/workload"
)

// measureShapes collects repeated --shape name:d1,d2 flags.
type measureShapes map[string][]int64

func (s measureShapes) String() string { return fmt.Sprint(map[string][]int64(s)) }

func (s measureShapes) Set(v string) error {
	name, dims, ok := strings.Cut(v, ":")
	if !ok || name == "" || dims == "" {
		return fmt.Errorf("--shape %q: want name:d1,d2,... (dimensions without the batch)", v)
	}
	var out []int64
	for _, d := range strings.Split(dims, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("--shape %q: dimension %q is not a positive integer", v, d)
		}
		out = append(out, n)
	}
	s[name] = out
	return nil
}

var measureHelp = help{
	usage: "measure [-m MODEL] [-u ADDR] [-b N] [--concurrency-range S:E:S | --request-rate-range S:E:S] [-f FILE] [flags]",
	about: `Measures one configuration of a served model and prints a short summary
(throughput, latency percentiles, errors); --json FILE|- writes the whole
measurement. Without -u it starts the embedded server in this process.
perf_analyzer's flags work here: a range measures one point per value as a
small sweep (results file under runs/, the same command resumes it), prints
perf_analyzer's summary and, with -f, writes its CSV. Concurrency N is one
client keeping N requests in flight, as perf_analyzer's; see the README,
"Coming from perf_analyzer".`,
	examples: []string{
		"iaasbench measure -m mlp -b 8",
		"iaasbench measure -m mlp -u 127.0.0.1:8001 -b 8 --concurrency-range 1:4:1 -f pa.csv",
		"iaasbench measure -m mlp -i http -u 127.0.0.1:8000 --request-rate-range 100:400:100 --percentile 95",
		"iaasbench measure -m mlp --concurrency-range 1:64 --binary-search -l 10 --percentile 95",
		"iaasbench measure -m mlp --json m.json --csv rows.csv",
	},
	// perf_analyzer's short flags, each the same variable as its long flag.
	aliases: map[string]string{"m": "model", "u": "url", "b": "batch-size", "x": "model-version",
		"p": "measurement-interval", "s": "stability-percentage", "r": "max-trials", "H": "header", "l": "latency-threshold"},
}

func runMeasure(ctx context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("measure", measureHelp)
	url := fs.String("url", "", "server address(es), comma-separated: "+addressHelp+"; empty starts the embedded server in-process")
	metricsURL := fs.String("metrics-url", "", "Prometheus endpoint(s) to scrape, comma-separated, e.g. localhost:8002/metrics (embedded server: its own)")
	conn := addConnFlags(fs.FlagSet)
	o := measure.DefaultOptions()
	fs.StringVar(&o.Model, "model", "mlp", "model name")
	fs.StringVar(&o.Version, "model-version", "", "model version (default: latest)")
	fs.IntVar(&o.Clients, "clients", 1, "number of clients (independent request streams); spread round-robin over the servers")
	fs.IntVar(&o.Concurrency, "concurrency", 0, "requests in flight per client (closed loop, default 1) or at most (open loop, default 64)")
	fs.BoolVar(&o.SharedConnection, "shared-conn", false, "clients of a server share one connection (gRPC) or connection pool (HTTP) (default: one each)")
	fs.StringVar(&o.Mode, "mode", workload.ModeClosed, "closed or open loop")
	fs.StringVar(&o.RPC, "rpc", workload.RPCUnary, "unary or stream (bidirectional ModelStreamInfer)")
	fs.StringVar(&o.Arrival, "arrival", "", "open loop arrivals: constant, poisson or frames (r requests at each whole second)")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: requests per second per client (frames: per 1 s frame)")
	fs.IntVar(&o.BatchSize, "batch-size", 1, "batch size of each request")
	shapes := measureShapes{}
	fs.Var(shapes, "shape", "input shape without the batch dimension, name:d1,d2 (repeatable), for variable dimensions")
	fs.IntVar(&o.StringLength, "string-length", 128, "length of the random strings that fill BYTES inputs")
	fs.StringVar(&o.StringData, "string-data", "", "fill every BYTES input element with this string instead of random ones")
	fs.StringVar(&o.InputData, "input-data", "random", "input data: random, zero, a JSON file in perf_analyzer's format or a directory of raw files, one per input")
	fs.BoolVar(&o.Sequence, "sequence", false, "each client is one stateful sequence sending fs/r new samples per channel per request")
	fs.IntVar(&o.SampleRateHz, "sample-rate-hz", 4096, "fs: sample rate of the streamed data")
	fs.Float64Var(&o.InferenceRate, "inference-rate", 0, "r: inference sampling rate (default: --rate)")
	fs.Float64Var(&o.DataSeconds, "data-seconds", 0, "fixed amount of data in seconds, shared by the clients (offline)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up before recording (0: none)")
	fs.DurationVar(&o.Window, "window", o.Window, "measurement window")
	fs.Float64Var(&o.StabilityTolerance, "stability", o.StabilityTolerance, "windows are stable when throughput and latency lie within this fraction of their mean")
	fs.IntVar(&o.StableWindows, "stable-windows", o.StableWindows, "consecutive stable windows needed")
	fs.IntVar(&o.MaxWindows, "max-windows", o.MaxWindows, "give up on stability after this many windows")
	fs.DurationVar(&o.Duration, "duration", 0, "fixed measurement length instead of the stability criterion")
	fs.Int64Var(&o.Requests, "requests", 0, "fixed number of requests after warm-up instead of the stability criterion")
	fs.DurationVar(&o.TelemetryInterval, "telemetry-interval", 100*time.Millisecond, "telemetry sampling interval")
	fs.BoolVar(&o.NoTelemetry, "no-telemetry", false, "do not sample NVML, host CPU or Prometheus")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the input data and Poisson arrivals")
	// perf_analyzer's flags.
	intervalMS := fs.Int("measurement-interval", 0, "perf_analyzer: window length in ms (same as --window)")
	stabilityPct := fs.Float64("stability-percentage", 0, "perf_analyzer: stability tolerance in % (same as --stability ×100)")
	fs.IntVar(&o.MaxWindows, "max-trials", o.MaxWindows, "perf_analyzer: most windows per point (same as --max-windows)")
	fs.IntVar(&o.Percentile, "percentile", 0, "judge stability by this latency percentile and report it (default: p99 for stability)")
	mmode := fs.String("measurement-mode", "time_windows", "time_windows or count_windows (each window runs until --measurement-request-count requests completed, at least 1 s or -p)")
	fs.Int64Var(&o.WindowRequests, "measurement-request-count", 50, "count_windows: requests per window")
	proto := fs.String("i", "", "protocol for -u host:port: grpc or http (default: as the address says; host:port is gRPC)")
	crange := fs.String("concurrency-range", "", "start:end:step: measure each concurrency (requests in flight from one client); end 0: up to -l")
	rrange := fs.String("request-rate-range", "", "start:end:step: measure each request rate (open loop, requests per second); end 0: up to -l")
	threshold := fs.Int64("latency-threshold", 0, fmt.Sprintf("ms: a range stops at the first value whose latency (--percentile's, else the mean) reaches it; with end 0 the range goes on until it does (at most %d values)", perfanalyzer.MaxSearchValues))
	binarySearch := fs.Bool("binary-search", false, "bisect start:end for the largest value under --latency-threshold; step is the precision")
	distribution := fs.String("request-distribution", "", "request-rate-range arrivals: constant or poisson (same as --arrival)")
	paCSV := fs.String("f", "", "write perf_analyzer's CSV report to this file (one row per value, sorted by throughput)")
	verboseCSV := fs.Bool("verbose-csv", false, "add perf_analyzer's --verbose-csv columns to -f")
	collectMetrics := fs.Bool("collect-metrics", false, "with --verbose-csv: add perf_analyzer's GPU columns to -f (per GPU utilization, power, memory; from --metrics-url, else NVML)")
	resultsPath := fs.String("results", "", "a range's results file (default runs/measure-MODEL-HASH.jsonl; the same command resumes it)")
	jsonPath := fs.String("json", "", "write the whole measurement as JSON to this file, or - for stdout")
	csvPath := fs.String("csv", "", "append a perf_analyzer-style CSV row to this file (header written when new)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stdout and stderr are terminals), on or off")
	repo := fs.String("repo", "", "embedded server: model repository directory (default: the built-in models)")
	gpus := fs.Int("emulated-gpus", 0, "embedded server: number of emulated GPUs")
	profile := fs.String("gpu-profile", "h200-mlp", "embedded server: device profile of mlp on emulated GPUs")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if len(shapes) > 0 {
		o.Shapes = shapes
	}
	if given["measurement-interval"] || given["p"] {
		if *intervalMS <= 0 {
			return fmt.Errorf("-p/--measurement-interval %d: want a window in ms > 0", *intervalMS)
		}
		o.Window = time.Duration(*intervalMS) * time.Millisecond
	}
	if given["stability-percentage"] || given["s"] {
		if *stabilityPct <= 0 {
			return fmt.Errorf("-s/--stability-percentage %g: want a percentage > 0", *stabilityPct)
		}
		o.StabilityTolerance = *stabilityPct / 100
	}
	switch *mmode {
	case "time_windows":
		o.WindowRequests = 0
	case "count_windows":
		if o.WindowRequests <= 0 {
			return fmt.Errorf("--measurement-request-count %d: want > 0", o.WindowRequests)
		}
		if !given["measurement-interval"] && !given["p"] && !given["window"] {
			o.Window = time.Second // perf_analyzer's count windows last at least 1 s
		}
	default:
		return fmt.Errorf("--measurement-mode %q: want time_windows or count_windows", *mmode)
	}
	if *distribution != "" {
		o.Arrival = *distribution
	}
	o.Logger = slog.Default()
	switch *progress {
	case "on":
		o.Progress = os.Stderr
	case "auto":
		if term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stderr.Fd())) {
			o.Progress = os.Stderr
		}
	case "off":
	default:
		return fmt.Errorf("--progress %q: want auto, on or off", *progress)
	}
	addrs, err := withProtocol(splitList(*url), *proto)
	if err != nil {
		return err
	}
	o.Addrs = addrs
	o.MetricsURLs = splitList(*metricsURL)
	var rng *perfanalyzer.Range
	requestRate := false
	rangeFlag := "--concurrency-range"
	switch {
	case *crange != "" && *rrange != "":
		return errors.New("--concurrency-range and --request-rate-range: give one")
	case *crange != "":
		r, err := perfanalyzer.ParseRange(rangeFlag, *crange, true)
		if err != nil {
			return err
		}
		rng = &r
	case *rrange != "":
		rangeFlag = "--request-rate-range"
		r, err := perfanalyzer.ParseRange(rangeFlag, *rrange, false)
		if err != nil {
			return err
		}
		rng, requestRate = &r, true
	}
	var search *perfanalyzer.Search
	if rng != nil {
		search = &perfanalyzer.Search{Range: *rng, ThresholdMS: *threshold, Binary: *binarySearch, Integer: !requestRate, Percentile: o.Percentile, Flag: rangeFlag}
		if err := search.Check(); err != nil {
			return err
		}
	} else if given["latency-threshold"] || given["l"] || *binarySearch {
		return errors.New("-l/--latency-threshold and --binary-search search a range: give --concurrency-range or --request-rate-range")
	}
	if len(o.Addrs) > 0 {
		cs, err := conn.settings(o.Logger)
		if err != nil {
			return err
		}
		o.Conn = cs
	} else if given := conn.set(); len(given) > 0 {
		return fmt.Errorf("%s say how to reach --url servers; the embedded server is plaintext gRPC in this process", strings.Join(given, ", "))
	}
	embedded := len(o.Addrs) == 0
	if embedded {
		srv, err := startMeasureServer(*repo, *gpus, *profile)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		o.Addrs = []string{srv.Addr()}
		if *proto == "http" {
			o.Addrs = []string{srv.HTTPURL()}
		}
		if len(o.MetricsURLs) == 0 && srv.MetricsURL() != "" {
			o.MetricsURLs = []string{srv.MetricsURL()}
		}
	} else if *repo != "" || *gpus != 0 {
		return errors.New("--repo and --emulated-gpus configure the embedded server: leave out --url to use them")
	}
	csvOpts := pacsv.Options{RequestRate: requestRate || o.Mode == workload.ModeOpen, Percentile: o.Percentile, Verbose: *verboseCSV, Metrics: *collectMetrics}
	if *collectMetrics && (!*verboseCSV || o.NoTelemetry) {
		return errors.New("--collect-metrics adds columns to --verbose-csv's -f and needs telemetry: give --verbose-csv, leave out --no-telemetry")
	}

	if rng != nil {
		if given["clients"] || given["concurrency"] || given["rate"] || given["mode"] {
			return errors.New("a range sets the load: leave out --clients, --concurrency, --rate and --mode")
		}
		sw := &perfanalyzer.Sweep{Base: o, Values: search.Values(), Search: search, RequestRate: requestRate, Addrs: o.Addrs, MetricsURLs: o.MetricsURLs,
			Embedded: embedded, ResultsPath: *resultsPath, Progress: progressWriter(), Logger: slog.Default(), Version: version}
		sw.Base.Progress = nil
		sum, rows, err := sw.Run(ctx)
		if sum == nil {
			return err
		}
		perfanalyzer.WriteSummary(out, rows, csvOpts)
		if search.Active() && sum.StopReason != "" {
			fmt.Fprintf(out, "search: %s\n", sum.StopReason)
		}
		fmt.Fprintf(out, "results: %s (%d measured, %d failed, %d already there)\n", sum.ResultsPath, sum.Measured, sum.Failed, sum.Skipped)
		if *paCSV != "" && len(rows) > 0 {
			if err := writePACSV(*paCSV, rows, csvOpts); err != nil {
				return err
			}
			fmt.Fprintf(out, "csv: %s (%d rows)\n", *paCSV, len(rows))
		}
		if err != nil {
			return err
		}
		switch sum.Outcome {
		case sweep.Partial, sweep.Interrupted:
			return &exitError{exitPartial, errors.New(sum.Describe())}
		case sweep.NothingMeasured:
			return &exitError{exitNothing, errors.New(sum.Describe())}
		}
		return nil
	}

	m, runErr := measure.Run(ctx, o)
	if m != nil {
		if err := writeMeasurementJSON(m, *jsonPath, out); err != nil {
			return errors.Join(runErr, err)
		}
		if *jsonPath != "-" {
			writeMeasureSummary(out, m, *jsonPath)
		}
		if runErr == nil && *csvPath != "" {
			if err := measure.AppendCSVFile(*csvPath, m, measure.CSVLoad(o)); err != nil {
				return err
			}
		}
		if runErr == nil && *paCSV != "" {
			if err := writePACSV(*paCSV, []pacsv.Row{{Load: measure.CSVLoad(o), M: m}}, csvOpts); err != nil {
				return err
			}
		}
	}
	return runErr
}

// withProtocol applies -i to addresses without a scheme: perf_analyzer's
// -u is host:port and -i says the protocol.
func withProtocol(addrs []string, proto string) ([]string, error) {
	switch proto {
	case "", "grpc", "http":
	default:
		return nil, fmt.Errorf("-i %q: want grpc or http", proto)
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a
		scheme, _, hasScheme := strings.Cut(a, "://")
		switch {
		case proto == "":
		case !hasScheme && proto == "http":
			out[i] = "http://" + a
		case hasScheme && !strings.HasPrefix(scheme, proto):
			return nil, fmt.Errorf("-i %s but -u %s says %s", proto, a, scheme)
		}
	}
	return out, nil
}

// writePACSV writes perf_analyzer's CSV report, replacing the file as
// perf_analyzer does.
func writePACSV(path string, rows []pacsv.Row, o pacsv.Options) error {
	var buf bytes.Buffer
	if err := pacsv.Write(&buf, rows, o); err != nil {
		return fmt.Errorf("-f %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-f: %w", err)
	}
	return nil
}

// writeMeasureSummary prints the few figures one reads first.
func writeMeasureSummary(out io.Writer, m *results.Measurement, jsonPath string) {
	fmt.Fprintf(out, "%s over %s: %.1f infer/s (%.1f req/s", m.Model, results.ConnectionOf(m), m.ThroughputIPS, m.ThroughputRPS)
	if m.OfferedRPS > 0 {
		fmt.Fprintf(out, " of %.1f offered", m.OfferedRPS)
	}
	fmt.Fprintf(out, "), %d requests in %.2f s, stable=%v\n", m.Requests, m.DurationS, m.Stable)
	l := m.Latency
	fmt.Fprintf(out, "latency µs: mean %.0f, p50 %.0f, p90 %.0f, p95 %.0f, p99 %.0f, max %.0f", l.MeanUS, l.P50US, l.P90US, l.P95US, l.P99US, l.MaxUS)
	if l.Percentile > 0 {
		fmt.Fprintf(out, ", p%d %.0f", l.Percentile, l.PercentileUS)
	}
	fmt.Fprintln(out)
	if c := m.Client; c != nil {
		fmt.Fprintf(out, "client µs: send %.1f, recv %.1f\n", c.SendUS, c.RecvUS)
	}
	fmt.Fprintf(out, "errors: %d, rejected: %d (%.1f%%)\n", m.Errors, m.Rejected, 100*m.RejectionRate)
	if jsonPath != "" {
		fmt.Fprintf(out, "json: %s\n", jsonPath)
	} else {
		fmt.Fprintln(out, "json: not written (--json FILE or --json - for the whole measurement)")
	}
}

func writeMeasurementJSON(m *results.Measurement, path string, out io.Writer) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode measurement: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = out.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write measurement: %w", err)
	}
	return nil
}

// startMeasureServer starts the embedded server on free loopback ports.
func startMeasureServer(repo string, gpus int, profile string) (*server.Server, error) {
	// The server's model-load logs would drown the measurement's output.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := server.Options{Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", EmulatedGPUs: gpus, Version: version, Logger: quiet}
	if repo != "" {
		r, err := modelrepo.Dir(repo)
		if err != nil {
			return nil, err
		}
		opts.Repository = &r
	}
	if gpus > 0 {
		p, err := device.Load(profile)
		if err != nil {
			return nil, err
		}
		opts.Profiles = map[string]*device.Profile{"mlp": p}
	}
	srv, err := server.New(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("embedded server: %w", err)
	}
	return srv, nil
}
