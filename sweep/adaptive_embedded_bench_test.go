package sweep

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// embeddedSearchScenario is a 40-point grid of the talk's MLP on the
// embedded server's emulated GPUs, priced per GPU, with a latency bound.
const embeddedSearchScenario = `
name: adaptive-embedded
workload: {model: mlp, mode: closed, rpc: unary}
dimensions:
  gpus: [1, 2, 3, 4]
  instances: [1, 2]
  clients: [1, 2, 4, 8, 16]
  batch_size: 8
server: {emulated_gpu_profile: h200-mlp}
measure: {warmup: 100ms, duration: 300ms}
cost:
  prices: {gpu_hour: {default: 2.5}, node_hour: 0.5}
  constraints: ["p99 <= 5ms"]
  objective: usd_per_million
`

// BenchmarkAdaptiveVsGridEmbedded measures the whole grid and the
// adaptive search on the embedded server, in one run, and reports the
// share of the grid adaptive measured and the cost of its chosen point
// relative to the grid optimum — both costs read from the grid run, so
// that run-to-run noise does not flatter either. Targets: ≤ 30% of the
// grid, within 5% of the optimum's cost.
func BenchmarkAdaptiveVsGridEmbedded(b *testing.B) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i := 0; i < b.N; i++ {
		s, err := scenarios.Parse([]byte(embeddedSearchScenario), "adaptive-embedded.yaml")
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		run := func(st Strategy, name string) []results.Record {
			sum, err := Run(context.Background(), Options{Attempts: 2, Scenario: s, ResultsPath: filepath.Join(dir, name), Measure: MeasureWith(log, nil), Logger: log, Strategy: st})
			if err != nil {
				b.Fatal(err)
			}
			return results.Points(sum.Records)
		}
		grid := run(NewGrid(s), "grid.jsonl")
		ad, err := NewAdaptive(s)
		if err != nil {
			b.Fatal(err)
		}
		adaptive := run(ad, "adaptive.jsonl")
		opt := bestFeasibleOf(b, s, grid)
		chosen := bestFeasibleOf(b, s, adaptive)
		if opt == nil || chosen == nil {
			b.Fatalf("no feasible point: grid %v, adaptive %v", opt, chosen)
		}
		// The adaptive choice as the grid run measured it.
		var chosenInGrid []results.Record
		for _, r := range grid {
			if r.Point.Key() == chosen.Point.Key() {
				chosenInGrid = append(chosenInGrid, r)
			}
		}
		inGrid := bestFeasibleOf(b, s, chosenInGrid)
		ratio := chosen.Cost / opt.Cost
		if inGrid != nil {
			ratio = inGrid.Cost / opt.Cost
		}
		b.Logf("grid optimum %s (%.4g), adaptive chose %s (%.4g in its run); %d of %d points", opt.Point.Key(), opt.Cost, chosen.Point.Key(), chosen.Cost, distinctPoints(adaptive), distinctPoints(grid))
		b.ReportMetric(100*float64(distinctPoints(adaptive))/float64(distinctPoints(grid)), "%-of-grid")
		b.ReportMetric(ratio, "cost/optimum")
	}
}
