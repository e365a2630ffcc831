package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/iaasbench/iaasbench/gate"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

var gateRunHelp = help{
	usage: "gate run [--scenario S] [--baseline-url|-model|-repo X] [--candidate-url|-model|-repo X] [flags]",
	about: `Measures a baseline and a candidate alternately, trial by trial (AB, BA,
AB, ... at each point of the scenario's whole grid), writes both sides to
one results file, then gates as gate --results FILE would. Each side is
the scenario changed by its side flags; with none, an A/A run shows the
gate's own false alarms on this machine. docs/ci-gate.md explains.`,
	examples: []string{
		"iaasbench gate run",
		"iaasbench gate run --baseline-url main-build:8001 --candidate-url pr-build:8001",
		"iaasbench gate run --scenario ci-gate-12 --candidate-repo ./models-pr --markdown gate.md",
		"iaasbench gate run --candidate-model mlp_v2 --json -",
	},
	after: gateExitCodes,
}

// runGateRun ignores main's context: like sweep, it handles the signals
// itself so that the first Ctrl-C still gates what was measured.
func runGateRun(_ context.Context, args []string, out io.Writer) error {
	fs := newCmdFlags("gate run", gateRunHelp)
	name := fs.String("scenario", "ci-gate", "built-in scenario `NAME` or YAML file")
	side := map[string]struct{ url, model, repo *string }{}
	for _, s := range []string{results.SideBaseline, results.SideCandidate} {
		side[s] = struct{ url, model, repo *string }{
			fs.String(s+"-url", "", "the "+s+"'s servers, `ADDRS` comma-separated (a remote target)"),
			fs.String(s+"-model", "", "the "+s+"'s `MODEL` name (default: the scenario's)"),
			fs.String(s+"-repo", "", "the "+s+"'s model repository `DIR` (embedded or local target)"),
		}
	}
	resultsFile := fs.String("results", "", "new results `FILE` for both sides (default DIR/SCENARIO-ab-TIME.jsonl)")
	resultsDir := fs.String("results-dir", sweep.DefaultDir, "`DIR` of the default results file")
	attempts := fs.Int("attempts", sweep.DefaultOptions().Attempts, "tries per trial: a failed trial is tried again up to `N` times in all (at least 1)")
	g := addGateFlags(fs.FlagSet)
	if err := parseGateFlags(fs, args, out); err != nil {
		return err
	}
	s, err := scenarios.Resolve(*name)
	if err != nil {
		return &exitError{2, err}
	}
	if s.Agents > 0 {
		return &exitError{2, fmt.Errorf("scenario %s: gate run measures in-process; load agents (agents: %d) are not supported", s.Name, s.Agents)}
	}
	if s.Target.Kind == scenarios.TargetKubernetes || s.Target.Kind == scenarios.TargetSimulated {
		return &exitError{2, fmt.Errorf("scenario %s: gate run supports embedded, remote and local targets, not %s", s.Name, s.Target.Kind)}
	}
	opts, err := g.options(s)
	if err != nil {
		return &exitError{2, err}
	}
	var arms []sweep.Arm
	for _, label := range []string{results.SideBaseline, results.SideCandidate} {
		f := side[label]
		a := *s // the sides share the scenario's name: points match by it
		if *f.url != "" {
			a.Target = scenarios.Target{Kind: scenarios.TargetRemote, URLs: splitList(*f.url)}
		}
		if *f.model != "" {
			a.Workload.Model = *f.model
		}
		if *f.repo != "" {
			if a.Target.Kind == scenarios.TargetRemote {
				return &exitError{2, fmt.Errorf("--%s-repo: the %s's servers are remote (--%s-url or the scenario's target); a repository applies to an embedded or local target", label, label, label)}
			}
			a.Target.Repo = *f.repo
		}
		arms = append(arms, sweep.Arm{Side: label, Scenario: &a})
	}
	path := *resultsFile
	if path == "" {
		path = filepath.Join(*resultsDir, fmt.Sprintf("%s-ab-%s.jsonl", s.Name, time.Now().UTC().Format("20060102T150405Z")))
	}

	// The first Ctrl-C ends the run after the round in flight (what was
	// measured is gated); the second aborts it.
	stop := make(chan struct{})
	soft, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(os.Stderr, "\nstopping after the round in flight (Ctrl-C again to abort it)")
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
	info := out // progress lines; stderr when stdout carries the JSON
	if *g.json == "-" {
		info = os.Stderr
	}
	fmt.Fprintf(info, "gate run %s: %d points × %d trials × 2 sides, interleaved; baseline %s, candidate %s\n",
		s.Name, len(s.Points()), max(s.Measure.Trials, 1), describeArm(arms[0].Scenario), describeArm(arms[1].Scenario))
	sum, err := sweep.RunInterleaved(soft, sweep.InterleaveOptions{Arms: arms, ResultsPath: path, Measure: sweep.MeasureWith(slog.Default(), nil),
		Attempts: *attempts, Stop: stop, Progress: progressWriter(), Logger: slog.Default(), Version: version})
	if sum != nil {
		fmt.Fprintf(info, "results: %s (%d trials measured, %d failed attempts)\n", sum.ResultsPath, sum.Measured, sum.Failed)
		if sum.StopReason != "" {
			fmt.Fprintln(info, "stopped:", sum.StopReason)
		}
	}
	if err != nil {
		return &exitError{2, err}
	}
	base, cand, err := gate.SplitSides(sum.Records, path)
	if err != nil {
		return &exitError{2, err}
	}
	rep, err := gate.Compare(base, cand, opts)
	if err != nil {
		return &exitError{2, err}
	}
	fmt.Fprintln(info)
	if err := g.emit(rep, out); err != nil {
		return err
	}
	if sum.Stopped {
		return &exitError{2, errors.New("the run was stopped before every trial was measured: " + sum.StopReason)}
	}
	return nil
}

// describeArm says in a few words what a side measures.
func describeArm(s *scenarios.Scenario) string {
	where := s.Target.Kind
	switch {
	case s.Target.Kind == scenarios.TargetRemote:
		where = fmt.Sprint(s.Target.URLs)
	case s.Target.Repo != "":
		where += " " + s.Target.Repo
	}
	return fmt.Sprintf("model %s on %s", s.Workload.Model, where)
}
