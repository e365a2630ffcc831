package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/simulate"
	"github.com/iaasbench/iaasbench/sweep"
)

const simulateUsage = `usage: iaasbench simulate --scenario S [--profile P] [--out FILE] [--overhead-us N]
                          [--host-cores N [--embedded-host] [--background-cpu-us N]]
       iaasbench simulate [--scenario S] --compare MEASURED.jsonl [--out FILE]

Simulates every point of a scenario with a discrete-event model of servers,
devices (GPUs), model instances, Triton's schedulers and the scenario's
clients, and writes simulated records (source "simulated") that results,
report and cost read like measured ones.

Service model: one call of a batch of rows holds its device for the
profile's service time of those rows; a device runs one call at a time, so
instances on one GPU share it, and each instance runs one batch at a time.
Without GPUs each instance is its own executor and the profile stands for
the CPU. Each request also spends --overhead-us outside the server (client
and network), half on the way in and half on the way out; with
--host-cores that time is CPU work on a pool of that many cores shared by
all clients and servers (one machine, as an embedded sweep runs). The
cores are shared as an OS shares them: n running jobs each progress at
min(1, cores/n). --embedded-host makes the servers iaasbench's embedded
server on that machine: each device call also runs on those cores (an
emulated GPU computes the model and spins on the CPU) and a device passes
to the next request only after the reply's CPU work (the handler that ran
the call sends its response first). --background-cpu-us adds CPU work per
request that no request waits for (runtime, transport goroutines, other
processes). Without --host-cores the host is unlimited.

--compare simulates the points of a measured results file and prints
point | measured thr | simulated thr | err% | measured p99 | simulated p99 | err%.
Unless --overhead-us is given, the overhead is fitted from the measured file
first: at points with a single request in flight (one client, concurrency
one) overhead = measured p50 − profile service time (median over them), and
its distribution = their latency histograms shifted by the service time;
without such points, the servers' client_overhead_us at the least-loaded
points. --fit-service also adds to the profile the median excess of the
servers' compute time over it at those points (an emulated GPU on a busy
host oversleeps every call); the overhead is then fitted on top of it.

When the measured file is from an embedded target (clients and servers on
one machine) --compare also models that machine, as --embedded-host does,
unless --host-cores 0 is given: --host-cores cores (default: the measuring
machine's, env.cpus) run every request's overhead (up to the fitted
median; the distribution's tail is waiting, not work), every device call,
and background work per request. The host CPU per request is fitted at
the busiest points (most requests in flight) as cpu_util × cpus /
requests per second (median), and background = that − overhead − device
calls. On a machine shared with other processes their share is charged to
the requests, as it was taken from them. A device call is CPU work only
for its last 120 µs (the embedded device sleeps, then spins). Where the
sweep recorded its emulated GPUs' call durations (device_calls, at points
with one request in flight), each simulated call adds an excess over the
profile drawn from them, and the overhead's distribution is the one
that, added to an independent call, reproduces the latency at those
points (a deconvolution: subtracting quantiles would thin the tail);
the excess grows, quantile by quantile, by a fitted amount per further
GPU busy on the host (a least-squares line through every point's
recorded calls against its busy GPUs: emulated devices sharing two cores
wake later the more of them run);
older files get an exponential excess of the servers' mean excess
instead. Each point is simulated 10 times as long as it was measured, so
that a simulated p99 is the model's, not one short window's noise.
With several trials per point the measured figure is their median, and
the table shows their spread (max − min over median) beside each error:
the measurement's own noise. Distributions fitted from several points
(overhead, device excess) are combined quantile by quantile by the
median, so one trial that stalled does not fatten the simulated tail.

Flags:
`

func runSimulate(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("simulate", os.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), simulateUsage)
		fs.PrintDefaults()
	}
	name := fs.String("scenario", "", "scenario: built-in name or YAML file (with --compare, default: the scenario in the measured file's header)")
	profileName := fs.String("profile", "", "device profile: built-in name (h200-mlp) or JSON file (default: the scenario's server.emulated_gpu_profile or h200-mlp; for the calibrated model its configured service time)")
	outPath := fs.String("out", "", "results file to write (default results/<scenario>-<hash>-simulated.jsonl; with --compare only when given)")
	overheadFlag := fs.String("overhead-us", "", fmt.Sprintf("client/network time per request outside the server, in µs (default %g; with --compare fitted from the measurements)", float64(simulate.DefaultOverhead)/1e3))
	hostCores := fs.Int("host-cores", 0, "make the overhead CPU work on this many shared cores (0: pure latency, unlimited host; with --compare of an embedded sweep default: the measuring machine's cores, fitted)")
	embeddedHost := fs.Bool("embedded-host", false, "with --host-cores: the servers are the embedded server on that host (device calls run on its cores, a device is handed over after the reply)")
	backgroundUS := fs.Float64("background-cpu-us", 0, "with --host-cores: host CPU work per request, in µs, that no request waits for")
	seed := fs.Uint64("seed", 1, "random seed (Poisson arrivals, jitter); the same seed gives the same figures")
	compare := fs.String("compare", "", "measured results file of the same scenario: print measured vs simulated per point")
	fitService := fs.Bool("fit-service", false, "with --compare: also fit a constant added to the profile's service time from the servers' compute time at one request in flight (for devices that do not keep to their profile)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see iaasbench simulate -h)", fs.Args())
	}
	overheadUS := -1.0 // not given
	if *overheadFlag != "" {
		v, err := strconv.ParseFloat(*overheadFlag, 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("--overhead-us: want a number of microseconds ≥ 0, got %q", *overheadFlag)
		}
		overheadUS = v
	}
	if *hostCores < 0 {
		return fmt.Errorf("--host-cores must not be negative, got %d", *hostCores)
	}
	if *backgroundUS < 0 || math.IsInf(*backgroundUS, 0) || math.IsNaN(*backgroundUS) {
		return fmt.Errorf("--background-cpu-us: want a number of microseconds ≥ 0, got %g", *backgroundUS)
	}
	if *hostCores == 0 && (*embeddedHost || *backgroundUS > 0) {
		return errors.New("--embedded-host and --background-cpu-us need --host-cores N (N > 0)")
	}
	hostCoresSet := false
	fs.Visit(func(f *flag.Flag) { hostCoresSet = hostCoresSet || f.Name == "host-cores" })
	var measured []results.Record
	var s *scenarios.Scenario
	var err error
	if *compare != "" {
		if measured, err = results.ReadFile(*compare); err != nil {
			return err
		}
	}
	switch {
	case *name != "":
		if s, err = scenarios.Resolve(*name); err != nil {
			return err
		}
	case *compare != "":
		if s, err = scenarioOfResults(measured, *compare); err != nil {
			return fmt.Errorf("%w (give --scenario)", err)
		}
	default:
		return errors.New("need --scenario NAME|FILE (see iaasbench scenarios list)")
	}
	model, err := simulate.LookupModel(s)
	if err != nil {
		return err
	}
	profile, err := simulationProfile(s, model, *profileName)
	if err != nil {
		return err
	}
	opts := simulate.Options{Profile: profile, Overhead: simulate.DefaultOverhead, HostCores: *hostCores, Model: &model, Seed: *seed, Version: version,
		DeviceOnHost: *embeddedHost, HandoffAfterReply: *embeddedHost, BackgroundCPU: time.Duration(*backgroundUS * float64(time.Microsecond))}
	if overheadUS >= 0 {
		opts.Overhead = time.Duration(overheadUS * float64(time.Microsecond))
	}

	if *compare != "" {
		if hdr := results.HeaderOf(measured); hdr != nil && *name != "" {
			if ms, err := scenarios.Parse([]byte(hdr.ScenarioYAML), *compare); err == nil && ms.Hash() != s.Hash() {
				fmt.Fprintf(out, "note: %s measured scenario %s (hash %s), not %s (hash %s): points are matched by coordinates only\n",
					*compare, ms.Name, ms.Hash(), s.Name, s.Hash())
			}
		}
		var fit simulate.Fit
		if overheadUS < 0 {
			fit |= simulate.FitOverhead
		}
		if *fitService {
			fit |= simulate.FitService
		}
		// An embedded sweep ran clients and servers on one machine: model
		// it unless told not to (--host-cores 0) or told how
		// (--embedded-host / --background-cpu-us).
		hdr := results.HeaderOf(measured)
		embedded := hdr != nil && hdr.Target == scenarios.TargetEmbedded
		if embedded && (!hostCoresSet || *hostCores > 0) && !*embeddedHost && *backgroundUS == 0 {
			fit |= simulate.FitHost
			opts.DeviceCPU = server.EmulatedGPUSpin
		}
		v, err := simulate.Validate(ctx, s, measured, opts, fit)
		if err != nil {
			return err
		}
		if *fitService {
			fmt.Fprintf(out, "service time = profile %+.1f µs per call, fitted from the servers' compute time at one request in flight\n", float64(v.ServiceOffset)/1e3)
		}
		if v.Calibration != nil {
			fmt.Fprintf(out, "overhead %.1f µs per request, fitted from %s (%s)\n", float64(v.Overhead)/1e3, *compare, v.Calibration.How)
		} else {
			fmt.Fprintf(out, "overhead %.1f µs per request (given)\n", float64(v.Overhead)/1e3)
		}
		if v.Host != nil {
			capText := ""
			if c := v.Options.CPUOverheadCap; c > 0 {
				capText = fmt.Sprintf(" (overhead CPU capped at %.1f µs, its tail waiting)", float64(c)/1e3)
			}
			fmt.Fprintf(out, "host: embedded target, so %d cores shared by clients, servers and device calls%s, fitted from %s: %s (for plain simulate: --host-cores %d --embedded-host --background-cpu-us %.0f)\n",
				v.Host.Cores, capText, *compare, v.Host.How, v.Host.Cores, float64(v.Host.Background)/1e3)
			switch o := v.Options; {
			case len(o.ServiceExcess) > 0:
				q := o.ServiceExcess
				fmt.Fprintf(out, "device calls: each adds an excess over the profile drawn from the calls recorded at one request in flight (median %.1f µs, p99 %.1f µs)",
					float64(q[len(q)/2])/1e3, float64(q[len(q)*99/100])/1e3)
				if p := o.ExcessPerBusyDevice; len(p) > 0 {
					fmt.Fprintf(out, ", plus per further GPU busy on the host %+.1f µs at the median, %+.1f µs at p99 (fitted from every point's recorded calls)",
						float64(p[len(p)/2])/1e3, float64(p[len(p)*99/100])/1e3)
				}
				fmt.Fprintln(out)
			case o.Overshoot > 0:
				fmt.Fprintf(out, "device calls: no calls recorded in %s; each adds an exponential excess of mean %.1f µs (the servers' compute time over the profile)\n",
					*compare, float64(o.Overshoot)/1e3)
			}
			fmt.Fprintf(out, "profile: %s\n\n", profile.Device)
		} else {
			fmt.Fprintf(out, "profile: %s; host cores: %s\n\n", profile.Device, coresText(*hostCores))
		}
		if err := simulate.WriteComparison(out, v.Rows); err != nil {
			return err
		}
		for _, w := range v.Warnings {
			fmt.Fprintln(out, "warning:", w)
		}
		if *outPath != "" {
			return writeSimulated(out, s, v.Options, *outPath, v.Simulated)
		}
		return nil
	}

	path := *outPath
	if path == "" {
		path = filepath.Join(sweep.DefaultDir, fmt.Sprintf("%s-%s-simulated.jsonl", s.Name, s.Hash()))
	}
	w, err := openSimulatedFile(path)
	if err != nil {
		return err
	}
	defer w.Close()
	start := time.Now()
	recs, err := simulate.Run(ctx, s, opts, w)
	if err != nil {
		return err
	}
	printSimulated(out, recs)
	host := ""
	if opts.HostCores > 0 {
		host = fmt.Sprintf(", host %d cores", opts.HostCores)
		if opts.DeviceOnHost {
			host += " running the embedded server's device calls"
		}
		if opts.BackgroundCPU > 0 {
			host += fmt.Sprintf(", background %.1f µs per request", float64(opts.BackgroundCPU)/1e3)
		}
	}
	fmt.Fprintf(out, "simulated %d points of %s in %v (overhead %.1f µs%s, profile %s): %s\n",
		len(recs), s.Name, time.Since(start).Round(time.Millisecond), float64(opts.Overhead)/1e3, host, profile.Device, path)
	return nil
}

// simulationProfile picks the service-time profile: the flag, else the
// calibrated model's own line, else the scenario's emulated GPU profile.
func simulationProfile(s *scenarios.Scenario, m simulate.Model, flag string) (*device.Profile, error) {
	if flag != "" {
		return device.Load(flag)
	}
	if m.Calibrated {
		return simulate.CalibratedProfile(m, s.Server.Calibrated), nil
	}
	p, err := device.Load(s.Server.EmulatedGPUProfile)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: server.emulated_gpu_profile: %w", s.Name, err)
	}
	return p, nil
}

func coresText(n int) string {
	if n == 0 {
		return "unlimited (overhead is latency only)"
	}
	return fmt.Sprint(n)
}

// openSimulatedFile creates path afresh. A simulation is reproducible, so
// an earlier simulated file there is replaced; a file of measurements is
// never touched.
func openSimulatedFile(path string) (*results.Writer, error) {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		recs, err := results.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s exists and is not a results file: %w", path, err)
		}
		if hdr := results.HeaderOf(recs); hdr == nil || hdr.Target != scenarios.TargetSimulated {
			return nil, fmt.Errorf("%s exists and holds measurements: choose another --out", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("replace %s: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	return results.Create(path)
}

// writeSimulated writes the records of a comparison to path.
func writeSimulated(out io.Writer, s *scenarios.Scenario, opts simulate.Options, path string, recs []results.Record) error {
	w, err := openSimulatedFile(path)
	if err != nil {
		return err
	}
	defer w.Close()
	hdr := simulate.Header(s, opts)
	if err := w.Append(hdr); err != nil {
		return err
	}
	for _, r := range recs {
		r.SweepID = hdr.SweepID
		if err := w.Append(r); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "simulated records: %s\n", path)
	return nil
}

func printSimulated(out io.Writer, recs []results.Record) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "servers\tgpus\tinstances\tclients\trate\tbatch\tthr (inf/s)\tp50 (ms)\tp99 (ms)\tGPU util %\tstatus\t")
	for _, r := range recs {
		p := r.Point
		m := r.Measurement
		if m == nil {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%g\t%d\t-\t-\t-\t-\t%s: %s\t\n", p.Servers, p.GPUs, p.Instances, p.Clients, p.Rate, p.BatchSize, r.Status, r.Reason)
			continue
		}
		util := "-"
		if m.Telemetry != nil && p.GPUs > 0 {
			util = fmt.Sprintf("%.0f", m.Telemetry.GPUUtilMean)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%g\t%d\t%.0f\t%.3f\t%.3f\t%s\t%s\t\n", p.Servers, p.GPUs, p.Instances, p.Clients, p.Rate, p.BatchSize,
			m.ThroughputIPS, m.Latency.P50US/1e3, m.Latency.P99US/1e3, util, strings.TrimSpace(string(r.Status)))
	}
	tw.Flush()
}
