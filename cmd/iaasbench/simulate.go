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
	"time"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/server"
	"github.com/iaasbench/iaasbench/simulate"
	"github.com/iaasbench/iaasbench/sweep"
)

var simulateHelp = help{
	usage: "simulate --scenario S [--profile P] [--out FILE] [flags]\n       iaasbench simulate [--scenario S] --compare MEASURED.jsonl [--out FILE] [flags]",
	about: `Simulates every point of a scenario with a discrete-event model of
servers, devices, Triton's schedulers and clients and writes records
labelled "simulated"; --compare predicts a measured sweep and prints the
errors. The model and what --compare fits: docs/simulate.md.`,
	examples: []string{
		"iaasbench simulate --scenario quickstart",
		"iaasbench simulate --scenario batching-delay --profile a100.json --out runs/a100.jsonl",
		"iaasbench simulate --compare runs/sim-validation-1a2b3c.jsonl",
		"iaasbench simulate --compare runs/quickstart-1a2b3c.jsonl --fit-service --host-cores 2",
	},
	after: `exit status (when a results file is written): 0 every point simulated;
3 some points could not be (reasons in the file); 4 none could;
130/143 stopped by SIGINT/SIGTERM; 1 any other error.`,
}

func runSimulate(ctx context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("simulate", simulateHelp)
	name := fs.String("scenario", "", "built-in scenario `NAME` or YAML file (with --compare, default: the measured file's)")
	profileName := fs.String("profile", "", "device `PROFILE`: built-in name or JSON file (default: the scenario's)")
	outPath := fs.String("out", "", "results `FILE` to write (default runs/SCENARIO-HASH-simulated.jsonl; with --compare only if given)")
	overheadFlag := fs.String("overhead-us", "", fmt.Sprintf("client and network time per request outside the server, in `µs` (default %g; with --compare fitted)", float64(simulate.DefaultOverhead)/1e3))
	hostCores := fs.Int("host-cores", 0, "run the overhead's CPU work on `N` shared cores (0: unlimited host; with --compare of an embedded sweep: fitted)")
	seed := fs.Uint64("seed", 1, "random `SEED` (arrivals, jitter): the same seed gives the same figures")
	compare := fs.String("compare", "", "print measured against simulated per point of this measured results `FILE`")
	fitService := fs.Bool("fit-service", false, "with --compare: also fit a constant added to the profile's service time")
	pos, err := fs.parse(args, out)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q (see iaasbench simulate -h)", pos)
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
	profile, err := simulate.ProfileFor(s, model, *profileName)
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
		if *name != "" {
			if note := simulate.MeasuredElsewhere(measured, *compare, s); note != "" {
				fmt.Fprintln(out, "note:", note)
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
	w, err := simulate.CreateFile(path)
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
	if err := simulate.WriteTable(out, recs); err != nil {
		return err
	}
	host := ""
	if opts.Host != nil {
		host = fmt.Sprintf(", host %d cores", opts.Host.Cores)
	}
	fmt.Fprintf(out, "simulated %d points of %s in %v (overhead %.1f µs%s, profile %s): %s\n",
		len(recs), s.Name, time.Since(start).Round(time.Millisecond), float64(opts.Overhead)/1e3, host, profile.Device, path)
	return simulatedOutcome(ctx, recs, len(s.Points()), path)
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
	w, err := simulate.CreateFile(path)
	if err != nil {
		return err
	}
	defer w.Close()
	if err := simulate.WriteRecords(w, s, opts, recs); err != nil {
		return err
	}
	fmt.Fprintf(out, "simulated records: %s\n", path)
	return simulatedOutcome(context.Background(), recs, len(recs), path)
}
