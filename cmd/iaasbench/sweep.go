package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

func runSweep(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("sweep", os.Stderr)
	name := fs.String("scenario", "quickstart", "built-in scenario name or YAML file")
	resultsFile := fs.String("results", "", "results file (default runs/<scenario>-<hash>.jsonl; an existing file is resumed)")
	resultsDir := fs.String("results-dir", sweep.DefaultDir, "directory for results files")
	reportDir := fs.String("report", "", "report directory (default: the results file's path without .jsonl); \"off\" skips the report")
	url := fs.String("url", "", "comma-separated server addresses, "+addressHelp+": sweep these servers instead of the scenario's target")
	conn := addConnFlags(fs)
	attempts := fs.Int("attempts", 2, "tries per failing point")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := scenarios.Resolve(*name)
	if err != nil {
		return err
	}
	if *url != "" {
		s.Target = scenarios.Target{Kind: scenarios.TargetRemote, URLs: splitList(*url)}
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
	// The first Ctrl-C ends the sweep after the point in flight; the
	// second aborts it (ctx is cancelled by main's handler then).
	stop := make(chan struct{})
	soft, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, "\nstopping after the point in flight (Ctrl-C again to abort it)")
			close(stop)
		case <-soft.Done():
			return
		}
		select {
		case <-sigs:
			cancel()
		case <-soft.Done():
		}
	}()
	measurer := sweep.MeasureWith(slog.Default(), progressWriter())
	var target sweep.Target
	sweepID := ""
	switch {
	case s.Agents > 0 && s.Target.Kind == scenarios.TargetKubernetes:
		// Agents run in the cluster as a Job and dial a coordinator here.
		kc := s.Target.Kubernetes
		if kc.CoordinatorListen == "" || kc.CoordinatorURL == "" {
			return fmt.Errorf("scenario %s: agents on Kubernetes need target.kubernetes.coordinator_listen and coordinator_url (where the agents' pods reach this machine)", s.Name)
		}
		path := *resultsFile
		if path == "" {
			path = sweep.DefaultPath(*resultsDir, s)
		}
		sweepID = sweep.IDOf(path, s)
		kt, err := sweep.NewKubernetes(ctx, s, sweepID, slog.Default())
		if err != nil {
			return err
		}
		defer kt.Close()
		coord, err := agent.NewCoordinator(kc.CoordinatorListen, slog.Default())
		if err != nil {
			return err
		}
		defer coord.Close()
		if err := kt.StartAgents(ctx, s.Agents, kc.CoordinatorURL); err != nil {
			return err
		}
		target, measurer = kt, sweep.MeasureWithAgents(coord, s.Agents, slog.Default())
	case s.Agents > 0:
		pool, err := agent.StartPool(s.Agents, agent.SelfCommand)
		if err != nil {
			return err
		}
		defer pool.Close()
		measurer = sweep.MeasureWithAgents(pool.Coordinator, pool.K(), slog.Default())
	}
	fmt.Fprintf(out, "sweep %s: %d points × %d trials, target %s, search %s\n", s.Name, strategy.Size(), max(s.Measure.Trials, 1), s.Target.Kind, strategy.Name())
	sum, err := sweep.Run(soft, sweep.Options{
		Scenario: s, ResultsPath: *resultsFile, ResultsDir: *resultsDir, Measure: measurer,
		Attempts: *attempts, Stop: stop, Progress: progressWriter(), Logger: slog.Default(), Version: version, Strategy: strategy,
		Target: target, SweepID: sweepID,
	})
	if sum != nil {
		fmt.Fprintf(out, "results: %s (%d measured, %d failed attempts, %d already there)\n", sum.ResultsPath, sum.Measured, sum.Failed, sum.Skipped)
		if sum.StopReason != "" {
			fmt.Fprintln(out, "stopped:", sum.StopReason)
		}
	}
	if err != nil {
		return err
	}
	var failed error
	if sum.Measured == 0 && sum.Skipped == 0 && sum.Failed > 0 {
		failed = fmt.Errorf("no point could be measured (%d failed attempts; reasons in %s, e.g. `iaasbench results show %s`)", sum.Failed, sum.ResultsPath, sum.ResultsPath)
	}
	if *reportDir == "off" {
		return failed
	}
	dir := *reportDir
	if dir == "" {
		dir = defaultReportDir(sum.ResultsPath)
	}
	if err := writeReport(out, sum.Records, s.Cost, dir); err != nil {
		return err
	}
	return failed
}

// progressWriter is stderr when it is a terminal, else nil: bars stay
// out of logs and pipes.
func progressWriter() io.Writer {
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return os.Stderr
	}
	return nil
}
