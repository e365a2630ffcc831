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

const simulateUsage = `usage: iaasbench simulate --scenario S [--profile P] [--out FILE] [--overhead-us N] [--host-cores N]
       iaasbench simulate [--scenario S] --compare MEASURED.jsonl [--out FILE]

Simulates every point of a scenario with a discrete-event model of servers,
devices, instances, Triton's schedulers and clients, and writes records
labelled "simulated"; --compare predicts a measured sweep and prints the
errors. How the model works and what --compare fits: docs/simulate.md.

Writing a results file takes it as its only writer (like a sweep). Exit
status where simulate writes one: 0 every point simulated; 3 some points
could not be simulated (their reasons are in the file); 4 none could;
130/143 stopped by SIGINT/SIGTERM; 1 any other error.

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
		var notes []string
		s, notes, err = scenarioOfResults(measured, *compare)
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, "note:", n)
		}
		if err != nil {
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
	opts := simulate.Options{Profile: profile, Overhead: simulate.DefaultOverhead, Model: &model, Seed: *seed, Version: version}
	if *hostCores > 0 {
		opts.Host = &simulate.HostModel{Cores: *hostCores}
	}
	if overheadUS >= 0 {
		opts.Overhead = time.Duration(overheadUS * float64(time.Microsecond))
	}

	if *compare != "" {
		if hdr := results.HeaderOf(measured); hdr != nil && *name != "" {
			if ms, _, err := scenarios.ParseRecorded([]byte(hdr.ScenarioYAML), *compare); err == nil && ms.Hash() != s.Hash() {
				fmt.Fprintf(out, "note: %s measured scenario %s (hash %s), not %s (hash %s): points are matched by coordinates only\n",
					*compare, ms.Name, ms.Hash(), s.Name, s.Hash())
			}
		}
		cores := *hostCores
		if !hostCoresSet {
			cores = -1 // the measuring machine's
		}
		fit := simulate.DefaultFit(measured, &opts, overheadUS >= 0, *fitService, cores, server.EmulatedGPUSpin)
		v, err := simulate.Validate(ctx, s, measured, opts, fit)
		if err != nil {
			return err
		}
		if err := v.WriteFits(out, *compare); err != nil {
			return err
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
		if _, isSig := interrupted(ctx); isSig {
			return simulatedOutcome(ctx, recs, len(s.Points()), path)
		}
		return err
	}
	printSimulated(out, recs)
	host := ""
	if opts.Host != nil {
		host = fmt.Sprintf(", host %d cores", opts.Host.Cores)
	}
	fmt.Fprintf(out, "simulated %d points of %s in %v (overhead %.1f µs%s, profile %s): %s\n",
		len(recs), s.Name, time.Since(start).Round(time.Millisecond), float64(opts.Overhead)/1e3, host, profile.Device, path)
	return simulatedOutcome(ctx, recs, len(s.Points()), path)
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

// openSimulatedFile creates path afresh, as its only writer. A simulation
// is reproducible, so an earlier simulated file there is replaced; a file
// of measurements is never touched.
func openSimulatedFile(path string) (*results.Writer, error) {
	check := func() error {
		st, err := os.Stat(path)
		if err != nil || st.Size() == 0 {
			return nil
		}
		recs, err := results.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s exists and is not a results file: %w", path, err)
		}
		if hdr := results.HeaderOf(recs); hdr == nil || hdr.Target != scenarios.TargetSimulated {
			return fmt.Errorf("%s exists and holds measurements: choose another --out", path)
		}
		return nil
	}
	// Checked before the lock, so that a foreign file is not even
	// repaired, and again under it, where it cannot change any more.
	if err := check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	w, err := results.Create(path)
	if err != nil {
		return nil, err
	}
	if err := check(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Truncate(); err != nil {
		w.Close()
		return nil, fmt.Errorf("replace %s: %w", path, err)
	}
	return w, nil
}

// simulatedOutcome maps the records of a simulation of planned points to
// sweep's exit codes: a point the model could not simulate is as much a
// hole in the file as one a sweep could not measure.
func simulatedOutcome(ctx context.Context, recs []results.Record, planned int, path string) error {
	ok := 0
	var first *results.Record
	for i, r := range recs {
		if r.Status == results.StatusOK {
			ok++
		} else if first == nil {
			first = &recs[i]
		}
	}
	if in, isSig := interrupted(ctx); isSig {
		return interruptedError(in, fmt.Sprintf("stopped: kept %d simulated points of %d in %s (a simulation is reproducible: run it again)", len(recs), planned, path))
	}
	o := sweep.Classify(planned, ok, false)
	if o == sweep.Complete {
		return nil
	}
	msg := fmt.Sprintf("%s: %d of %d points could not be simulated", o, planned-ok, planned)
	if first != nil {
		msg += fmt.Sprintf(", e.g. %s: %s", first.Point.Key(), first.Reason)
	}
	msg += fmt.Sprintf("; reasons in %s (iaasbench results show %s)", path, path)
	if o == sweep.NothingMeasured {
		return &exitError{exitNothing, errors.New(msg)}
	}
	return &exitError{exitPartial, errors.New(msg)}
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
	return simulatedOutcome(context.Background(), recs, len(recs), path)
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
