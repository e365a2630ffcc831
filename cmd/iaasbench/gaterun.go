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

const gateRunUsage = `usage: iaasbench gate run --scenario S [side flags] [flags]

Measures a baseline and a candidate alternately, trial by trial, over the
scenario's grid (AB, BA, AB, … at each point), writes both sides' records
to one results file (labelled by side), then gates the candidate against
the baseline as 'iaasbench gate --results FILE' would. Measured in the same
minutes, both sides see the same machine: drift and noisy neighbours do
not show as a difference.

Each side is the scenario, changed by its side flags:
  --baseline-url / --candidate-url      gRPC addresses of running servers (Triton
                                        or 'iaasbench serve'): two builds side by side
  --baseline-model / --candidate-model  another model name in the repository
  --baseline-repo / --candidate-repo    another model repository (embedded target)
An embedded side runs in-process servers of its own, on loopback. With no
side flags both sides are the same: an A/A run, which shows the gate's own
false alarms on this machine (it should pass with every row "~").
The grid is always measured whole (a search strategy is not used).

flags:
`

// runGateRun ignores main's context: like sweep, it handles the signals
// itself so that the first Ctrl-C still gates what was measured.
func runGateRun(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("gate run", os.Stderr)
	name := fs.String("scenario", "ci-gate", "built-in scenario name or YAML file")
	side := map[string]struct{ url, model, repo *string }{}
	for _, s := range []string{results.SideBaseline, results.SideCandidate} {
		side[s] = struct{ url, model, repo *string }{
			fs.String(s+"-url", "", "comma-separated gRPC addresses of the "+s+"'s servers (a remote target)"),
			fs.String(s+"-model", "", "the "+s+"'s model name (default: the scenario's workload.model)"),
			fs.String(s+"-repo", "", "the "+s+"'s model repository directory (embedded or local target)"),
		}
	}
	resultsFile := fs.String("results", "", "results file for both sides; must be new (default <results-dir>/<scenario>-ab-<UTC time>.jsonl)")
	resultsDir := fs.String("results-dir", sweep.DefaultDir, "directory for the default results file")
	attempts := fs.Int("attempts", sweep.DefaultOptions().Attempts, "tries per trial: a trial that fails is tried again until it has been tried this often (at least 1)")
	g := addGateFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), gateRunUsage)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), gateExitCodes)
	}
	if err := parseGateFlags(fs, args); err != nil {
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
