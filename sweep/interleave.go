package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Arm is one side of an interleaved run: the label written into each of
// its records (results.Record.Side), the scenario it measures (arms may
// differ in model, repository or servers, never in points or trials) and
// its target.
type Arm struct {
	Side     string
	Scenario *scenarios.Scenario
	// Target is nil to build one from Scenario: an embedded scenario then
	// gets in-process servers of its own, so arms never share a queue.
	Target Target
}

// InterleaveOptions configure RunInterleaved.
type InterleaveOptions struct {
	Arms []Arm
	// ResultsPath is the JSONL file every arm's records go to; it must
	// not exist yet or be empty: pooling the trials of two runs would
	// compare two time spans again.
	ResultsPath string
	Measure     Measurer
	Attempts    int             // tries per trial, at least 1 (DefaultOptions().Attempts is 2)
	Stop        <-chan struct{} // closed: stop after the round in flight
	Progress    io.Writer       // a terminal shows a bar; nil is quiet
	Logger      *slog.Logger
	Version     string
}

// RunInterleaved measures the arms' common grid point by point and, at
// each point, trial by trial in rounds that measure every arm once, the
// arm going first rotating from round to round (AB, BA, AB, … for two
// arms). Both sides of a comparison are so measured in the same minutes:
// a machine that drifts slower, or a noisy neighbour, hits them alike and
// does not show as a difference, and a linear drift cancels exactly over
// each pair of rounds. Each arm gets its own header and SweepID in the
// one results file; failed trials are recorded and retried as in Run.
// An error is returned only when the run itself cannot go on.
func RunInterleaved(ctx context.Context, opts InterleaveOptions) (*Summary, error) {
	if len(opts.Arms) < 2 {
		return nil, fmt.Errorf("interleave: need at least two arms, got %d", len(opts.Arms))
	}
	if opts.Measure == nil {
		return nil, errors.New("interleave: no measurer")
	}
	if opts.ResultsPath == "" {
		return nil, errors.New("interleave: no results file")
	}
	if opts.Attempts < 1 {
		return nil, fmt.Errorf("interleave: attempts per trial must be at least 1, got %d", opts.Attempts)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	first := opts.Arms[0].Scenario
	var points []results.Point
	trials := 1
	seen := map[string]bool{}
	for i, a := range opts.Arms {
		if a.Scenario == nil || a.Side == "" || seen[a.Side] {
			return nil, fmt.Errorf("interleave: arm %d needs a scenario and a side label of its own", i+1)
		}
		seen[a.Side] = true
		p, t := a.Scenario.Points(), max(a.Scenario.Measure.Trials, 1)
		if i == 0 {
			points, trials = p, t
			continue
		}
		if !slices.Equal(p, points) || t != trials {
			return nil, fmt.Errorf("interleave: arm %s measures %d points × %d trials, arm %s %d × %d: the sides must share the grid and trials",
				a.Side, len(p), t, opts.Arms[0].Side, len(points), trials)
		}
	}
	if fi, err := os.Stat(opts.ResultsPath); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("interleave: %s already holds results; choose another file (an interleaved run is not resumed)", opts.ResultsPath)
	}
	if err := os.MkdirAll(filepath.Dir(opts.ResultsPath), 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	w, err := results.Create(opts.ResultsPath)
	if err != nil {
		return nil, err
	}
	defer w.Close()

	type arm struct {
		Arm
		sweepID string
		order   int
	}
	arms := make([]*arm, len(opts.Arms))
	env := Environment(opts.Version)
	for i, a := range opts.Arms {
		s := a.Scenario
		ar := &arm{Arm: a, sweepID: newSweepID(s) + "-" + a.Side}
		hdr := results.Record{Kind: results.KindHeader, SweepID: ar.sweepID, Scenario: s.Name, ScenarioHash: s.Hash(), Started: time.Now().UTC(),
			Side: a.Side, Header: &results.Header{ScenarioYAML: string(s.YAML()), Target: s.Target.Kind, Env: env}}
		if err := w.Append(hdr); err != nil {
			return nil, err
		}
		if ar.Target == nil {
			t, err := NewTarget(ctx, s, log, opts.Version, ar.sweepID)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", a.Side, err)
			}
			defer t.Close()
			ar.Target = t
		}
		arms[i] = ar
	}

	attempts := opts.Attempts
	sum := &Summary{ResultsPath: opts.ResultsPath}
	bar := newProgress(opts.Progress, len(points)*trials*len(arms), first.Name+" interleaved", first.Varied())
	round := 0
run:
	for pi, p := range points {
		for trial := 0; trial < trials; trial++ {
			if stopped(opts.Stop) {
				sum.Stopped, sum.StopReason = true, "stopped by request after the round in flight"
				break run
			}
			if ctx.Err() != nil {
				sum.Stopped, sum.StopReason = true, "interrupted"
				break run
			}
			for k := range arms {
				a := arms[(k+round)%len(arms)]
				for attempt := 1; attempt <= attempts; attempt++ {
					bar.point(pointStatus{K: pi + 1, N: len(points), Side: a.Side, Trial: trial, Trials: trials, Attempt: attempt, Tries: attempts}, p)
					rec := measurePoint(measure.WithPhases(ctx, bar.phase), Options{Measure: opts.Measure}, a.Target, a.Scenario, p, trial, attempt)
					e := env
					if rec.Env != nil {
						e.ServerName, e.Emulated = rec.Env.ServerName, rec.Env.Emulated
					}
					rec.SweepID, rec.Order, rec.Strategy, rec.Env, rec.Side = a.sweepID, a.order, scenarios.StrategyGrid, &e, a.Side
					a.order++
					if err := w.Append(rec); err != nil {
						return sum, err
					}
					if rec.Status == results.StatusOK {
						sum.Measured++
						break
					}
					sum.Failed++
					log.Warn("point failed", "side", a.Side, "point", p.Key(), "trial", trial, "attempt", attempt, "reason", rec.Reason)
					if ctx.Err() != nil {
						break
					}
				}
				bar.add()
			}
			round++
		}
	}
	bar.finish()
	all, err := results.ReadFile(opts.ResultsPath)
	if err != nil {
		return sum, err
	}
	sum.Records = all
	return sum, nil
}
