package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

var sweepHelp = help{
	aliases: connAliases,
	usage:   "sweep [--scenario S] [--url ADDR,...] [--results FILE] [--report DIR|off] [flags]",
	about: `Measures a scenario's points (default: quickstart on the embedded server),
appending each to a results file as it is measured (a file of the same
scenario is resumed), then prints the operating point and writes the
report. The first Ctrl-C stops after the point in flight, a second (or
SIGTERM) aborts it; run the same command again to resume.`,
	examples: []string{
		"iaasbench sweep",
		"iaasbench sweep --scenario batching-delay --report off",
		"iaasbench sweep --scenario quickstart --url triton:8001",
		"iaasbench sweep --scenario mine.yaml --results runs/mine.jsonl --attempts 3",
		"iaasbench sweep --url https://gw.example.com/mlp --ca-cert ca.pem -H 'Authorization: Bearer ${TOKEN}'",
	},
	after: `exit status:
  0    every planned point has an ok record
  1    the sweep could not run (flags, scenario, results file in use or
       unreadable, target failed to start) or the report failed
  3    some planned points failed every attempt or are incomplete
       (reasons: iaasbench results show FILE)
  4    nothing could be measured: no planned point has an ok record
  130  stopped by SIGINT (Ctrl-C)
  143  stopped by SIGTERM`,
}

func runSweep(ctx context.Context, args []string, out io.Writer) error {
	def := sweep.DefaultOptions()
	fs := newCmdFlags("sweep", sweepHelp)
	name := fs.String("scenario", "quickstart", "built-in scenario `NAME` or YAML file")
	resultsFile := fs.String("results", "", "results `FILE` (default DIR/SCENARIO-HASH.jsonl; an existing one is resumed)")
	resultsDir := fs.String("results-dir", def.ResultsDir, "`DIR` of the default results file")
	reportDir := fs.String("report", "", "report `DIR` (default: the results file without .jsonl); off: print the operating point only")
	url := fs.String("url", "", "sweep these servers (`ADDRS`, comma-separated) instead of the scenario's target: "+addressHelp)
	conn := addConnFlags(fs.FlagSet)
	attempts := fs.Int("attempts", def.Attempts, "tries per trial: a failed trial is tried again up to `N` times in all (at least 1)")
	if err := fs.parseFlagsOnly(args, out); err != nil {
		return err
	}
	if *attempts < 1 {
		return fmt.Errorf("--attempts must be at least 1, got %d", *attempts)
	}
	s, err := scenarios.Resolve(*name)
	if err != nil {
		return err
	}
	if *url != "" {
		notes, err := s.Retarget(scenarios.Target{Kind: scenarios.TargetRemote, URLs: splitList(*url)})
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, "note:", n)
		}
		if err != nil {
			return fmt.Errorf("--url: %w", err)
		}
	}
	if len(conn.set()) > 0 || *url != "" {
		if err := conn.applyTo(s); err != nil {
			return err
		}
	}
	strategy, err := sweep.Choose(s)
	if err != nil {
		return err
	}
	// The first SIGINT ends the sweep after the point in flight; a second
	// signal, or SIGTERM (a supervisor's grace period is shorter than a
	// point may take), aborts it.
	stop := make(chan struct{})
	soft, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got signalOnce
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			in := got.set(sig)
			if sig == os.Interrupt {
				fmt.Fprintf(os.Stderr, "\n%s: stopping after the point in flight (Ctrl-C again to abort it)\n", in.name())
				close(stop)
				break
			}
			fmt.Fprintf(os.Stderr, "\n%s: aborting the point in flight; what was measured is kept\n", in.name())
			cancel()
			return
		case <-soft.Done():
			return
		}
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "%s: aborting the point in flight\n", (&interruption{sig: sig}).name())
			cancel()
		case <-soft.Done():
		}
	}()
	path := *resultsFile
	if path == "" {
		path = sweep.DefaultPath(*resultsDir, s)
	}
	wiring, err := sweep.Wire(ctx, s, path, slog.Default())
	if err != nil {
		return err
	}
	defer wiring.Close()
	fmt.Fprintf(out, "sweep %s: %d points × %d trials, target %s, search %s\n", s.Name, strategy.Size(), max(s.Measure.Trials, 1), s.Target.Kind, strategy.Name())
	opts := def
	opts.Scenario, opts.ResultsPath, opts.ResultsDir = s, path, *resultsDir
	opts.Attempts, opts.Stop, opts.Progress, opts.Logger, opts.Version, opts.Strategy = *attempts, stop, progressWriter(), slog.Default(), version, strategy
	wiring.Apply(&opts)
	sum, err := sweep.Run(soft, opts)
	if sum != nil {
		fmt.Fprintf(out, "results: %s (%d measured, %d failed attempts, %d already there)\n", sum.ResultsPath, sum.Measured, sum.Failed, sum.Skipped)
		if sum.StopReason != "" {
			fmt.Fprintln(out, "stopped:", sum.StopReason)
		}
	}
	if in, ok := got.get(); ok && sum != nil {
		// Interrupted, whatever else happened: say so with the signal's code.
		how := "stopped after the point in flight"
		if soft.Err() != nil {
			how = "aborted the point in flight"
		}
		return interruptedError(in, fmt.Sprintf("%s: kept %d records (%d of the %d trials chosen so far ok) in %s; `iaasbench report --results %s` draws them, the same command resumes",
			how, len(results.Points(sum.Records)), sum.OK, sum.Planned, sum.ResultsPath, sum.ResultsPath))
	}
	if err != nil {
		return err
	}
	var outcome error
	switch sum.Outcome {
	case sweep.Partial:
		outcome = &exitError{exitPartial, errors.New(sum.Describe())}
	case sweep.NothingMeasured:
		return &exitError{exitNothing, errors.New(sum.Describe())}
	case sweep.Interrupted:
		// Stopped without a signal of ours (the context): still not complete.
		return &exitError{exitPartial, errors.New(sum.Describe())}
	}
	if *reportDir == "off" {
		printOperatingPoint(out, sum.Records, s.Cost)
		return outcome
	}
	dir := *reportDir
	if dir == "" {
		dir = defaultReportDir(sum.ResultsPath)
	}
	if err := writeReport(out, sum.Records, s.Cost, dir); err != nil {
		return err
	}
	return outcome
}

// signalOnce holds the first signal a sweep received.
type signalOnce struct {
	mu sync.Mutex
	in *interruption
}

func (o *signalOnce) set(sig os.Signal) *interruption {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.in == nil {
		o.in = &interruption{sig: sig}
	}
	return o.in
}

func (o *signalOnce) get() (*interruption, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.in, o.in != nil
}

// progressWriter is stderr when it is a terminal, else nil: bars stay
// out of logs and pipes.
func progressWriter() io.Writer {
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return nil
}
