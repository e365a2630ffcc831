package main

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/server"
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

func runMeasure(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("measure", os.Stderr)
	url := fs.String("url", "", "address(es) of the server(s), comma-separated: "+addressHelp+"; empty starts the embedded server in-process")
	metricsURL := fs.String("metrics-url", "", "Prometheus endpoint(s) to scrape, comma-separated, e.g. localhost:8002/metrics (embedded server: its own)")
	conn := addConnFlags(fs)
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
	fs.BoolVar(&o.Sequence, "sequence", false, "each client is one stateful sequence sending fs/r new samples per channel per request")
	fs.IntVar(&o.SampleRateHz, "sample-rate-hz", 4096, "fs: sample rate of the streamed data")
	fs.Float64Var(&o.InferenceRate, "inference-rate", 0, "r: inference sampling rate (default: --rate)")
	fs.Float64Var(&o.DataSeconds, "data-seconds", 0, "fixed amount of data in seconds, shared by the clients (offline)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "warm-up before recording (0: none)")
	fs.DurationVar(&o.Window, "window", o.Window, "measurement window")
	fs.Float64Var(&o.StabilityTolerance, "stability", o.StabilityTolerance, "windows are stable when throughput and p99 lie within this fraction of their mean")
	fs.IntVar(&o.StableWindows, "stable-windows", o.StableWindows, "consecutive stable windows needed")
	fs.IntVar(&o.MaxWindows, "max-windows", o.MaxWindows, "give up on stability after this many windows")
	fs.DurationVar(&o.Duration, "duration", 0, "fixed measurement length instead of the stability criterion")
	fs.Int64Var(&o.Requests, "requests", 0, "fixed number of requests after warm-up instead of the stability criterion")
	fs.DurationVar(&o.TelemetryInterval, "telemetry-interval", 100*time.Millisecond, "telemetry sampling interval")
	fs.BoolVar(&o.NoTelemetry, "no-telemetry", false, "do not sample NVML, host CPU or Prometheus")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the input data and Poisson arrivals")
	jsonPath := fs.String("json", "", "write the JSON measurement to this file instead of stdout")
	csvPath := fs.String("csv", "", "append a perf_analyzer-style CSV row to this file (header written when new)")
	progress := fs.String("progress", "auto", "progress bar on stderr: auto (when stdout and stderr are terminals), on or off")
	repo := fs.String("repo", "", "embedded server: model repository directory (default: the built-in models)")
	gpus := fs.Int("emulated-gpus", 0, "embedded server: number of emulated GPUs")
	profile := fs.String("gpu-profile", "h200-mlp", "embedded server: device profile of mlp on emulated GPUs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (flags only; see -h)", fs.Args())
	}
	if len(shapes) > 0 {
		o.Shapes = shapes
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
	o.Addrs = splitList(*url)
	o.MetricsURLs = splitList(*metricsURL)
	if len(o.Addrs) > 0 {
		cs, err := conn.settings(o.Logger)
		if err != nil {
			return err
		}
		o.Conn = cs
	} else if given := conn.set(); len(given) > 0 {
		return fmt.Errorf("%s say how to reach --url servers; the embedded server is plaintext gRPC in this process", strings.Join(given, ", "))
	}
	if len(o.Addrs) == 0 {
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
		if len(o.MetricsURLs) == 0 && srv.MetricsURL() != "" {
			o.MetricsURLs = []string{srv.MetricsURL()}
		}
	} else if *repo != "" || *gpus != 0 {
		return errors.New("--repo and --emulated-gpus configure the embedded server: leave out --url to use them")
	}

	m, runErr := measure.Run(ctx, o)
	if m != nil {
		if err := writeMeasurementJSON(m, *jsonPath, out); err != nil {
			return errors.Join(runErr, err)
		}
		if *csvPath != "" && runErr == nil {
			if err := measure.AppendCSVFile(*csvPath, m, measure.CSVLoad(o)); err != nil {
				return err
			}
		}
	}
	return runErr
}

func writeMeasurementJSON(m *results.Measurement, path string, out io.Writer) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode measurement: %w", err)
	}
	b = append(b, '\n')
	if path == "" {
		_, err = out.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write measurement: %w", err)
	}
	fmt.Fprintf(out, "%s over %s: %.0f infer/s (%.0f req/s of %.0f offered), p50 %.0f µs, p99 %.0f µs, %d errors, %d rejected (%.1f%%), stable=%v -> %s\n",
		m.Model, results.ConnectionOf(m), m.ThroughputIPS, m.ThroughputRPS, m.OfferedRPS, m.Latency.P50US, m.Latency.P99US, m.Errors, m.Rejected, 100*m.RejectionRate, m.Stable, path)
	return nil
}

// startMeasureServer starts the embedded server on free loopback ports.
func startMeasureServer(repo string, gpus int, profile string) (*server.Server, error) {
	// The server's model-load logs would drown the measurement's output.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := server.Options{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", EmulatedGPUs: gpus, Version: version, Logger: quiet}
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
