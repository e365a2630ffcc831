package gate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// grid makes ok records of points × trials with every figure times
// (1 + noise·N(0,1)); scale multiplies the service time (throughput
// divided by it, latencies times it).
func grid(seed uint64, points, trials int, noise, scale float64) []results.Record {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out []results.Record
	for p := range points {
		for tr := range trials {
			n := func(v float64) float64 { return v * (1 + noise*rng.NormFloat64()) }
			thr := 500 * float64(p+1)
			out = append(out, results.Record{Kind: results.KindPoint, SweepID: fmt.Sprint("s", seed), Scenario: "grid",
				Point: results.Point{Instances: p + 1, Clients: 4}, Trial: tr, Attempt: 1, Status: results.StatusOK,
				Measurement: &results.Measurement{ThroughputIPS: n(thr / scale),
					Latency: results.LatencySummary{P50US: n(2000 * scale), P99US: n(2600 * scale)}}})
		}
	}
	return out
}

// With 12 points × 3 metrics per run, a test at 0.05 per row flags some
// row in most runs of identical distributions; Holm's adjustment keeps
// the runs with any flagged row near alpha. Fixed seeds: the counts are
// deterministic, and far from the bounds asserted. (8 trials a side: with
// 6, two-sided p cannot get below 2/C(12,6) = 0.0022 > 0.05/36 at all.)
func TestFamilyWiseFalseAlarms(t *testing.T) {
	const runs = 100
	perRow, anyFlag, anyRegression := 0, 0, 0
	for seed := range uint64(runs) {
		rep := mustCompare(t, grid(2*seed+1000, 12, 8, 0.03, 1), grid(2*seed+1001, 12, 8, 0.03, 1), Options{})
		if rep.Compared != 36 || rep.Gated != 24 {
			t.Fatalf("families of %d and %d rows, want 36 and 24 (12 points × p50, p99, throughput; the last two gated)", rep.Compared, rep.Gated)
		}
		raw, flagged := false, false
		for _, r := range rep.Rows {
			raw = raw || r.P <= 0.05
			flagged = flagged || r.Significant
		}
		if raw {
			perRow++
		}
		if flagged {
			anyFlag++
		}
		if rep.ExitCode() == 1 {
			anyRegression++
		}
	}
	t.Logf("of %d A/A runs: %d with a row at p <= 0.05 unadjusted, %d with a Holm-significant row, %d with a regression", runs, perRow, anyFlag, anyRegression)
	if perRow < runs/2 {
		t.Errorf("only %d of %d runs had an unadjusted p <= 0.05: the fixture does not show the multiplicity problem", perRow, runs)
	}
	// Holm: at most alpha in expectation (5 of 100); allow for chance.
	if anyFlag > 12 {
		t.Errorf("%d of %d runs flagged a difference after Holm's adjustment, want about 5%% at most", anyFlag, runs)
	}
	// A regression needs the change beyond its threshold: with no change
	// at all, none.
	if anyRegression > 0 {
		t.Errorf("%d false regressions", anyRegression)
	}
}

// A change beyond its threshold by less than the noise is not a
// regression, even when the change itself is significant: the
// interval must clear the threshold.
func TestRegressionNeedsIntervalBeyondThreshold(t *testing.T) {
	// Throughput -7% (threshold -5%), 3% noise, 6 trials: the median
	// change is beyond -5%, the interval is not.
	base, cand := grid(1, 1, 6, 0.03, 1), grid(2, 1, 6, 0.03, 1/0.93)
	rep := mustCompare(t, base, cand, Options{})
	row := rep.Rows[0]
	if row.Metric != MetricThroughput {
		t.Fatalf("first row is %s", row.Metric)
	}
	if row.DeltaPct > -5 || row.DeltaCI == nil || row.DeltaCI.High < -5 {
		t.Fatalf("fixture: delta %+.1f%% CI %+v; want beyond -5%% with an interval reaching past it", row.DeltaPct, row.DeltaCI)
	}
	if row.Verdict != VerdictOK || rep.ExitCode() != 0 {
		t.Errorf("verdict %s, exit %d: %s", row.Verdict, rep.ExitCode(), row.Reason)
	}
	// The same change measured more precisely is one.
	base, cand = grid(1, 1, 10, 0.005, 1), grid(2, 1, 10, 0.005, 1/0.93)
	rep = mustCompare(t, base, cand, Options{})
	row = rep.Rows[0]
	if row.Verdict != VerdictRegression || row.DeltaCI == nil || row.DeltaCI.High > -5 {
		t.Errorf("precise: verdict %s, delta %+.1f%% CI %+v: %s", row.Verdict, row.DeltaPct, row.DeltaCI, row.Reason)
	}
}

// The verdicts follow the adjusted p-values exactly: a regression is a
// gated row with PRegressionHolm <= alpha, "~" a row with PHolm > alpha.
func TestVerdictsFollowAdjustedP(t *testing.T) {
	for seed := range uint64(20) {
		rep := mustCompare(t, grid(seed, 12, 8, 0.02, 1), grid(seed+100, 12, 8, 0.02, 1.06+0.01*float64(seed%5)), Options{})
		var ps []float64
		for _, r := range rep.Rows {
			if r.Gated {
				ps = append(ps, r.PRegression)
			}
		}
		adj := Holm(ps)
		k := 0
		for _, r := range rep.Rows {
			if r.Significant != (r.PHolm <= DefaultAlpha) {
				t.Fatalf("seed %d: %s significant %v with PHolm %v", seed, r.Metric, r.Significant, r.PHolm)
			}
			if !r.Gated {
				continue
			}
			if r.PRegressionHolm != adj[k] || (r.Verdict == VerdictRegression) != (adj[k] <= DefaultAlpha) {
				t.Fatalf("seed %d: %s verdict %s, PRegressionHolm %v, recomputed %v", seed, r.Metric, r.Verdict, r.PRegressionHolm, adj[k])
			}
			k++
		}
	}
}

// A row with too few trials for Holm's first step can still be rejected
// at a later step, once the rows before it are: it is then a regression,
// not "insufficient". Without the regressions it is insufficient (exit 2).
func TestLaterHolmStepRejectsSmallSample(t *testing.T) {
	// The first point keeps 5 trials a side: 1/C(10,5) = 0.004 > 0.05/24.
	trim := func(recs []results.Record) []results.Record {
		var out []results.Record
		for _, r := range recs {
			if r.Point.Instances > 1 || r.Trial < 5 {
				out = append(out, r)
			}
		}
		return out
	}
	base := trim(grid(1, 12, 8, 0.005, 1))
	rep := mustCompare(t, base, trim(grid(2, 12, 8, 0.005, 1.3)), Options{})
	for _, r := range rep.Rows {
		if r.Gated && r.Verdict != VerdictRegression {
			t.Errorf("%s %s (%d+%d trials): %s, want a regression: %s", r.PointKey, r.Metric, r.NBase, r.NNew, r.Verdict, r.Reason)
		}
	}
	rep = mustCompare(t, base, trim(grid(2, 12, 8, 0.005, 1)), Options{})
	for _, r := range rep.Rows {
		want := VerdictOK
		if r.Gated && r.NBase == 5 {
			want = VerdictInsufficient
		}
		if r.Verdict != want {
			t.Errorf("no change: %s %s (%d+%d trials): %s, want %s", r.PointKey, r.Metric, r.NBase, r.NNew, r.Verdict, want)
		}
	}
	if rep.ExitCode() != 2 || !strings.Contains(rep.Reason(), "use at least 6 trials a side") {
		t.Errorf("exit %d: %s", rep.ExitCode(), rep.Reason())
	}
}
