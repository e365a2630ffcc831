// Package sweep runs a scenario's points against live servers and records
// each point's measurement as it completes, so that results survive
// anything: resume skips what was measured, a failing point is recorded
// and retried, Ctrl-C stops after the point in flight.
package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/measure"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// Measurer measures one trial of one point on a deployment.
type Measurer func(ctx context.Context, dep *Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error)

// Options configure a sweep. Start from DefaultOptions and set what
// differs: every value set is used as given.
type Options struct {
	Scenario *scenarios.Scenario
	// ResultsPath is the JSONL file; empty means DefaultPath(dir, scenario).
	ResultsPath string
	ResultsDir  string // default DefaultDir
	Target      Target // nil: built from the scenario
	Measure     Measurer
	// Attempts is how often a failing trial is tried, at least 1.
	Attempts int
	// Stop, when closed, ends the sweep after the point in flight (the
	// first Ctrl-C); cancelling the context aborts the point (the second).
	Stop     <-chan struct{}
	Progress io.Writer // a terminal shows a bar over points; nil is quiet
	Logger   *slog.Logger
	Version  string
	// Strategy chooses the points; nil is the full grid.
	Strategy Strategy
	// SweepID names a new sweep (see IDOf); empty picks one. A file
	// that already has a header keeps its own.
	SweepID string
}

// DefaultOptions are a sweep's defaults: results under DefaultDir, two
// attempts per failing trial.
func DefaultOptions() Options {
	return Options{ResultsDir: DefaultDir, Attempts: 2}
}

// Summary says what a sweep did.
type Summary struct {
	ResultsPath string
	Measured    int // trials measured ok in this run
	Failed      int // failed attempts in this run
	Skipped     int // trials already in the results file
	Stopped     bool
	StopReason  string
	Records     []results.Record // every record of the file after the run
	// Planned counts the trials the strategy chose in this run (those
	// already in the file included); OK those of them with an ok record.
	Planned, OK int
	// Unfinished are the planned trials without an ok record: each failed
	// every attempt or was cut short, with its last attempt's reason.
	Unfinished []Unfinished
	// Outcome classifies the run for a pipeline (see Outcome).
	Outcome Outcome
	// Repaired is set when the results file ended in a torn line (a
	// write a crash cut short) that the sweep cut off before appending.
	Repaired *results.Repair
}

// Unfinished is a planned trial that has no ok record.
type Unfinished struct {
	Point    results.Point
	Trial    int
	Attempts int            // attempts made in this run
	Status   results.Status // of the last attempt: failed or incomplete
	Reason   string
}

// DefaultDir holds results files and their reports unless told otherwise.
// It is not the results package's source folder, so that data never lands
// beside code.
const DefaultDir = "runs"

// DefaultPath is where a scenario's results go: one file per scenario
// content, so that a re-run resumes and an edited scenario starts afresh.
func DefaultPath(dir string, s *scenarios.Scenario) string {
	if dir == "" {
		dir = DefaultDir
	}
	return filepath.Join(dir, fmt.Sprintf("%s-%s.jsonl", safeName(s.Name), s.Hash()))
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// trialKey identifies one trial of one point.
func trialKey(p results.Point, trial int) string { return fmt.Sprintf("%s#%d", p.Key(), trial) }

// Run sweeps the scenario. Records are appended as measured; an error is
// returned only when the sweep itself cannot go on (the results file, the
// target); failed points are recorded and the sweep continues.
func Run(ctx context.Context, opts Options) (*Summary, error) {
	s := opts.Scenario
	if s == nil {
		return nil, errors.New("sweep: no scenario")
	}
	if opts.Measure == nil {
		return nil, errors.New("sweep: no measurer")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	attempts := opts.Attempts
	if attempts < 1 {
		return nil, fmt.Errorf("sweep: attempts per trial must be at least 1, got %d", attempts)
	}
	path := opts.ResultsPath
	if path == "" {
		path = DefaultPath(opts.ResultsDir, s)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	// The lock comes first: what is read to resume is then what this
	// sweep appends to, and no other writer can splice records into it.
	w, err := results.Create(path)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	sum := &Summary{ResultsPath: path}
	if rep, ok := w.Repaired(); ok {
		sum.Repaired = &rep
		log.Warn("results file repaired", "file", rep.Path, "offset", rep.Offset, "bytes", rep.Bytes, "what", rep.String())
	}
	prior, err := results.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	done := map[string]bool{}
	order := 0
	sweepID := ""
	for _, r := range prior {
		if r.Kind == results.KindHeader {
			sweepID = r.SweepID
			continue
		}
		if r.ScenarioHash != s.Hash() {
			return nil, fmt.Errorf("resume: %s holds results of another version of scenario %s (hash %s, now %s); use another --results file", path, s.Name, r.ScenarioHash, s.Hash())
		}
		if r.Status == results.StatusOK {
			done[trialKey(r.Point, r.Trial)] = true
		}
		order = max(order, r.Order+1)
	}
	env := Environment(opts.Version)
	if sweepID == "" {
		sweepID = opts.SweepID
		if sweepID == "" {
			sweepID = newSweepID(s)
		}
		hdr := results.Record{Kind: results.KindHeader, SweepID: sweepID, Scenario: s.Name, ScenarioHash: s.Hash(), Started: time.Now().UTC(),
			Header: &results.Header{ScenarioYAML: string(s.YAML()), Target: s.Target.Kind, Env: env}}
		if err := w.Append(hdr); err != nil {
			return nil, err
		}
	}
	target := opts.Target
	if target == nil {
		if target, err = NewTarget(ctx, s, log, opts.Version, sweepID); err != nil {
			return nil, err
		}
		defer target.Close()
	}
	strategy := opts.Strategy
	if strategy == nil {
		strategy = NewGrid(s)
	}
	trials := max(s.Measure.Trials, 1)
	bar := newProgress(opts.Progress, strategy.Size()*trials, s.Name, s.Varied())
	chosen := 0
	for {
		if stopped(opts.Stop) {
			sum.Stopped, sum.StopReason = true, "stopped by request after the point in flight"
			break
		}
		if ctx.Err() != nil {
			sum.Stopped, sum.StopReason = true, "interrupted"
			break
		}
		p, why, ok := strategy.Next(currentRecords(prior, sum))
		if !ok {
			if why != "" {
				sum.StopReason = why
				log.Info("search stopped", "why", why)
			}
			break
		}
		chosen++
		for trial := 0; trial < trials; trial++ {
			sum.Planned++
			if done[trialKey(p, trial)] {
				sum.Skipped++
				sum.OK++
				bar.add()
				continue
			}
			var last results.Record
			tried := 0
			for attempt := 1; attempt <= attempts; attempt++ {
				bar.point(pointStatus{K: chosen, N: strategy.Size(), Trial: trial, Trials: trials, Attempt: attempt, Tries: attempts}, p)
				rec := measurePoint(measure.WithPhases(ctx, bar.phase), opts, target, s, p, trial, attempt)
				e := env
				if rec.Env != nil {
					e.ServerName, e.Emulated = rec.Env.ServerName, rec.Env.Emulated
				}
				rec.SweepID, rec.Order, rec.Strategy, rec.Env = sweepID, order, strategy.Name(), &e
				order++
				if err := w.Append(rec); err != nil {
					return sum, err
				}
				sum.Records = append(sum.Records, rec)
				last, tried = rec, attempt
				if rec.Status == results.StatusOK {
					sum.Measured++
					done[trialKey(p, trial)] = true
					break
				}
				sum.Failed++
				log.Warn("point failed", "point", p.Key(), "trial", trial, "attempt", attempt, "reason", rec.Reason)
				if ctx.Err() != nil {
					break
				}
			}
			if done[trialKey(p, trial)] {
				sum.OK++
			} else {
				sum.Unfinished = append(sum.Unfinished, Unfinished{Point: p, Trial: trial, Attempts: tried, Status: last.Status, Reason: last.Reason})
			}
			bar.add()
			if ctx.Err() != nil {
				break
			}
		}
	}
	bar.finish()
	if ctx.Err() != nil && !sum.Stopped {
		sum.Stopped, sum.StopReason = true, "interrupted"
	}
	sum.Outcome = Classify(sum.Planned, sum.OK, sum.Stopped)
	all, err := results.ReadFile(path)
	if err != nil {
		return sum, err
	}
	sum.Records = all
	return sum, nil
}

func currentRecords(prior []results.Record, sum *Summary) []results.Record {
	out := make([]results.Record, 0, len(prior)+len(sum.Records))
	out = append(out, results.Points(prior)...)
	return append(out, sum.Records...)
}

func stopped(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// measurePoint prepares the target and measures one attempt, turning
// every failure into a failed record with its reason.
func measurePoint(ctx context.Context, opts Options, target Target, s *scenarios.Scenario, p results.Point, trial, attempt int) results.Record {
	rec := results.Record{Kind: results.KindPoint, Scenario: s.Name, ScenarioHash: s.Hash(), Point: p, Trial: trial, Attempt: attempt,
		Source: results.SourceMeasured, Started: time.Now().UTC()}
	pctx, cancel := context.WithTimeout(ctx, s.Measure.PointTimeout())
	defer cancel()
	dep, err := target.Prepare(pctx, p)
	if err != nil {
		rec.Status, rec.Reason, rec.Finished = results.StatusFailed, "prepare: "+err.Error(), time.Now().UTC()
		return rec
	}
	for _, d := range dep.DeviceCalls {
		d.ResetDeviceCalls()
	}
	m, err := opts.Measure(pctx, dep, s, p)
	rec.Finished = time.Now().UTC()
	if m != nil && len(dep.DeviceCalls) > 0 {
		calls := hist.New()
		for _, d := range dep.DeviceCalls {
			calls.Merge(d.DeviceCalls())
		}
		if calls.Count() > 0 {
			h := calls.ToResults()
			m.DeviceCalls = &h
		}
	}
	rec.Measurement = m
	switch {
	case err != nil && m != nil && m.Requests > 0:
		rec.Status, rec.Reason = results.StatusIncomplete, err.Error()
	case err != nil:
		rec.Status, rec.Reason = results.StatusFailed, err.Error()
	case m == nil:
		rec.Status, rec.Reason = results.StatusFailed, "no measurement"
	case m.Incomplete:
		rec.Status, rec.Reason = results.StatusIncomplete, m.Error
	case m.Errors > 0:
		// Failed requests make the point's figures suspect (a dying
		// server, an overloaded queue): keep them, marked, with the count.
		rec.Status = results.StatusIncomplete
		rec.Reason = fmt.Sprintf("%d of %d requests failed during the measurement", m.Errors, m.Errors+m.Requests)
	default:
		rec.Status = results.StatusOK
	}
	rec.Allocation = dep.Allocation
	rec.Env = &results.Env{ServerName: dep.Server, Emulated: dep.Emulated}
	return rec
}

// IDOf is the ID a sweep writing to path will carry: the one in the
// file's header when it is resumed, else a new one. Targets that label
// what they create (Kubernetes) need it before the sweep starts.
func IDOf(path string, s *scenarios.Scenario) string {
	if recs, err := results.ReadFile(path); err == nil {
		for _, r := range recs {
			if r.Kind == results.KindHeader && r.SweepID != "" {
				return r.SweepID
			}
		}
	}
	return newSweepID(s)
}

func newSweepID(s *scenarios.Scenario) string {
	h := sha256.Sum256([]byte(fmt.Sprint(s.Name, s.Hash(), time.Now().UnixNano())))
	return s.Name + "-" + hex.EncodeToString(h[:4])
}
