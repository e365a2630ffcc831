package sweep

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// outcomeScenario has 3 points × 2 trials on a synthetic target.
func outcomeScenario(t *testing.T) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse([]byte("name: outcome\nworkload: {model: mlp}\ndimensions: {clients: [1, 2, 3]}\nmeasure: {trials: 2}\n"), "outcome.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failing measures every point but those whose clients fail says.
func failing(fail func(results.Point) bool) Measurer {
	return func(_ context.Context, _ *Deployment, _ *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		if fail(p) {
			return nil, errors.New("synthetic failure")
		}
		return &results.Measurement{Requests: 10, Inferences: 10, ThroughputIPS: 100}, nil
	}
}

// The outcome is derived from the records: every planned trial ok, some,
// none; and Attempts is the exact number of tries of a failing trial.
func TestOutcomeAndExactAttempts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     func(results.Point) bool
		attempts int
		want     Outcome
		ok       int
	}{
		{"all ok", func(results.Point) bool { return false }, 1, Complete, 6},
		{"one point fails, one attempt", func(p results.Point) bool { return p.Clients == 2 }, 1, Partial, 4},
		{"one point fails, three attempts", func(p results.Point) bool { return p.Clients == 2 }, 3, Partial, 4},
		{"every point fails", func(results.Point) bool { return true }, 2, NothingMeasured, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := outcomeScenario(t)
			o := DefaultOptions()
			o.Scenario, o.ResultsPath, o.Target, o.Measure, o.Attempts = s, filepath.Join(t.TempDir(), "r.jsonl"), fakeTarget{}, failing(tc.fail), tc.attempts
			sum, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Outcome != tc.want || sum.Planned != 6 || sum.OK != tc.ok || len(sum.Unfinished) != 6-tc.ok {
				t.Fatalf("outcome %v, planned %d, ok %d, unfinished %d; want %v, 6, %d, %d", sum.Outcome, sum.Planned, sum.OK, len(sum.Unfinished), tc.want, tc.ok, 6-tc.ok)
			}
			failedTrials := 6 - tc.ok
			if sum.Failed != failedTrials*tc.attempts {
				t.Fatalf("%d failed attempts for %d failing trials at --attempts %d; want exactly %d", sum.Failed, failedTrials, tc.attempts, failedTrials*tc.attempts)
			}
			for _, u := range sum.Unfinished {
				if u.Attempts != tc.attempts || u.Status != results.StatusFailed || !strings.Contains(u.Reason, "synthetic failure") {
					t.Fatalf("unfinished %+v", u)
				}
			}
			if d := sum.Describe(); tc.want != Complete && (!strings.Contains(d, o.ResultsPath) || !strings.Contains(d, "synthetic failure")) {
				t.Fatalf("description %q names neither the file nor a reason", d)
			}
		})
	}
}

// A resumed sweep counts what the file already holds: a point that failed
// before and succeeds now completes the sweep.
func TestOutcomeCountsResumedTrials(t *testing.T) {
	s := outcomeScenario(t)
	o := DefaultOptions()
	o.Scenario, o.ResultsPath, o.Target, o.Attempts = s, filepath.Join(t.TempDir(), "r.jsonl"), fakeTarget{}, 1
	o.Measure = failing(func(p results.Point) bool { return p.Clients == 3 })
	if sum, err := Run(context.Background(), o); err != nil || sum.Outcome != Partial {
		t.Fatalf("first run: %v, %v", sum.Outcome, err)
	}
	o.Measure = failing(func(results.Point) bool { return false })
	sum, err := Run(context.Background(), o)
	if err != nil || sum.Outcome != Complete || sum.Skipped != 4 || sum.Measured != 2 {
		t.Fatalf("resume: outcome %v, skipped %d, measured %d, %v; want complete, 4, 2", sum.Outcome, sum.Skipped, sum.Measured, err)
	}
}

func TestAttemptsBelowOneIsAnError(t *testing.T) {
	o := DefaultOptions()
	o.Scenario, o.ResultsPath, o.Target, o.Measure, o.Attempts = outcomeScenario(t), filepath.Join(t.TempDir(), "r.jsonl"), fakeTarget{}, failing(func(results.Point) bool { return false }), 0
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Fatalf("attempts 0: %v", err)
	}
}

// A stop request is Interrupted whatever was measured; a torn last line
// is cut off and reported with its offset.
func TestInterruptedAndRepairReported(t *testing.T) {
	s := outcomeScenario(t)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(`{"schema":1,"kind":"point","poi`), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	o := DefaultOptions()
	o.Scenario, o.ResultsPath, o.Target, o.Stop = s, path, fakeTarget{}, stop
	o.Measure = func(ctx context.Context, d *Deployment, s *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
		select {
		case <-stop:
		default:
			close(stop)
		}
		return failing(func(results.Point) bool { return false })(ctx, d, s, p)
	}
	sum, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Both trials of the point in flight finish, then the sweep stops.
	if sum.Outcome != Interrupted || sum.Planned != 2 || sum.OK != 2 {
		t.Fatalf("outcome %v planned %d ok %d; want interrupted after the first point's two trials", sum.Outcome, sum.Planned, sum.OK)
	}
	if sum.Repaired == nil || sum.Repaired.Offset != 0 || sum.Repaired.Bytes != 31 {
		t.Fatalf("repair %+v; want 31 bytes cut at offset 0", sum.Repaired)
	}
}
