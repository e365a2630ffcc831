package gate_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/gate"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/sweep"
)

// BenchmarkGateRates runs the ci-gate scenario on the embedded server
// again and again: consecutive runs of the same configuration give the
// false-alarm rate, runs against a calibrated model 15% slower give the
// detection rate. Targets: false alarms ≤ 5%, detection ≥ 95%. Each sweep
// takes ~5 s; -benchtime Nx sets the number of comparisons (default 1 →
// use e.g. -benchtime 20x).
func BenchmarkGateRates(b *testing.B) {
	base, err := scenarios.Builtin("ci-gate")
	if err != nil {
		b.Fatal(err)
	}
	slow := *base
	slow.Server.Calibrated.BaseUS *= 1.15
	slow.Server.Calibrated.PerItemUS *= 1.15
	dir := b.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	run := func(s *scenarios.Scenario, name string) []results.Record {
		sum, err := sweep.Run(context.Background(), sweep.Options{Scenario: s, ResultsPath: filepath.Join(dir, name+".jsonl"),
			Measure: sweep.MeasureWith(log, nil), Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		return sum.Records
	}
	th, err := gate.ParseThresholds(base.Gate.Thresholds)
	if err != nil {
		b.Fatal(err)
	}
	opts := gate.Options{Thresholds: th, MinTrials: base.Gate.MinTrials,
		USDPerMillion: gate.CostUSDPerMillion(func(*results.Header) (cost.Prices, error) { return base.Cost.Prices, nil })}
	prev := run(base, "base-0")
	alarms, detections := 0, 0
	for i := 0; i < b.N; i++ {
		same := run(base, fmt.Sprintf("base-%d", i+1))
		rep, err := gate.Compare(prev, same, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.ExitCode() == 1 {
			alarms++
			b.Logf("false alarm %d: %s", i, rep.Reason())
		}
		slower := run(&slow, fmt.Sprintf("slow-%d", i))
		rep, err = gate.Compare(same, slower, opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.ExitCode() == 1 {
			detections++
		} else {
			b.Logf("missed %d: exit %d %s", i, rep.ExitCode(), rep.Reason())
			_ = rep.WriteTable(testWriter{b})
		}
		prev = same
	}
	b.ReportMetric(100*float64(alarms)/float64(b.N), "false-alarm-%")
	b.ReportMetric(100*float64(detections)/float64(b.N), "detection-%")
}

type testWriter struct{ b *testing.B }

func (w testWriter) Write(p []byte) (int, error) { w.b.Log(string(p)); return len(p), nil }
