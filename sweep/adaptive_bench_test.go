package sweep

import (
	"testing"

	"github.com/iaasbench/iaasbench/scenarios"
)

// benchCase is a scenario and the system that answers its measurements.
type benchCase struct {
	name   string
	s      func(testing.TB) *scenarios.Scenario
	system synth
}

// synthCases are the synthetic scenarios adaptive search is judged on:
// the test cases, plus noise, batching, scale-out under a throughput
// demand, and a maximised objective.
func synthCases() []benchCase {
	var out []benchCase
	for _, tc := range searchCases {
		out = append(out, benchCase{tc.name, func(t testing.TB) *scenarios.Scenario { return scenarioOf(t, tc.dims, tc.cost, tc.search) }, tc.model})
	}
	noisy := interiorModel
	noisy.noise = 0.03
	noisyLatency := latencyModel
	noisyLatency.noise = 0.03
	batching := synth{capPerGPU: 3000, bestInst: 2, instWidth: 1, perClient: 800, gpuLoss: 0.1, baseMS: 1, batchHalf: 8}
	cpuPrices := "prices:\n  node_hour: 0.5\n"
	out = append(out,
		benchCase{"interior noisy 3%", func(t testing.TB) *scenarios.Scenario {
			return scenarioOf(t, gpuDims, gpuPrices, "")
		}, noisy},
		benchCase{"p99 limit noisy 3%", func(t testing.TB) *scenarios.Scenario {
			return scenarioOf(t, gpuDims, gpuPrices+"\nconstraints: [\"p99 <= 12ms\"]", "")
		}, noisyLatency},
		benchCase{"batching p99 limit", func(t testing.TB) *scenarios.Scenario {
			return scenarioOf(t, "instances: [1, 2, 4, 8]\nbatch_size: [1, 2, 4, 8, 16, 32]\nclients: [1, 2, 4, 8, 16]",
				cpuPrices+"objective: usd_per_million\nconstraints: [\"p99 <= 15ms\"]", "")
		}, batching},
		benchCase{"scale-out throughput demand", func(t testing.TB) *scenarios.Scenario {
			return scenarioOf(t, "servers: [1, 2, 3, 4, 5, 6, 7, 8]\nclients: [1, 2, 4, 8, 16]\nrate: [1, 2, 4]",
				cpuPrices+"objective: usd_per_hour\nconstraints: [\"throughput >= 15000/s\", \"p99 <= 30ms\"]", "")
		}, synth{capPerGPU: 2500, perClient: 300, baseMS: 3}},
		benchCase{"max throughput p99 limit", func(t testing.TB) *scenarios.Scenario {
			return scenarioOf(t, "instances: [1, 2, 4, 8]\nbatch_size: [1, 2, 4, 8, 16, 32]\nclients: [1, 2, 4, 8, 16]",
				cpuPrices+"objective: throughput\nconstraints: [\"p99 <= 10ms\"]", "")
		}, batching},
	)
	return out
}

// compare runs the grid and the adaptive search on one case: the points
// each measured and the adaptive best's cost over the grid optimum's
// (1 is as good; >1 worse).
func compare(tb testing.TB, bc benchCase) (adaptive, grid int, ratio float64, why string) {
	tb.Helper()
	s := bc.s(tb)
	all := gridRecords(tb, s, bc.system)
	truth := bestFeasible(tb, s, all)
	if truth == nil {
		tb.Fatalf("%s: no feasible grid point", bc.name)
	}
	a, err := NewAdaptive(s)
	if err != nil {
		tb.Fatal(err)
	}
	recs, why := drive(tb, a, s, bc.system)
	got := bestFeasible(tb, s, recs)
	ratio = 1e9 // nothing feasible found
	if got != nil {
		// Costs of maximised figures are negative: compare magnitudes so
		// that a ratio above 1 is always worse.
		ratio = got.Cost / truth.Cost
		if truth.Cost < 0 {
			ratio = truth.Cost / got.Cost
		}
	}
	return distinct(recs), distinct(all), ratio, why
}

// BenchmarkAdaptiveVsGrid reports, per scenario, the points the adaptive
// search measured against the grid's and its best feasible cost relative
// to the grid optimum. Targets: cost_ratio ≤ 1.05 with points_pct ≤ 30.
func BenchmarkAdaptiveVsGrid(b *testing.B) {
	for _, bc := range synthCases() {
		b.Run(bc.name, func(b *testing.B) {
			var adaptive, grid int
			var ratio float64
			var why string
			for b.Loop() {
				adaptive, grid, ratio, why = compare(b, bc)
			}
			b.ReportMetric(float64(adaptive), "points")
			b.ReportMetric(float64(grid), "grid_points")
			b.ReportMetric(100*float64(adaptive)/float64(grid), "points_pct")
			b.ReportMetric(ratio, "cost_ratio")
			b.Logf("%s: %d of %d points, cost %.4f× the grid optimum; stopped: %s", bc.name, adaptive, grid, ratio, why)
		})
	}
}

// TestAdaptiveBenchCases keeps the benchmark's scenarios honest in the
// quick suite: each must reach its target.
func TestAdaptiveBenchCases(t *testing.T) {
	for _, bc := range synthCases() {
		t.Run(bc.name, func(t *testing.T) {
			adaptive, grid, ratio, why := compare(t, bc)
			t.Logf("%d of %d points, cost ratio %.4f; stopped: %s", adaptive, grid, ratio, why)
			if float64(adaptive) > 0.3*float64(grid) {
				t.Errorf("measured %d of %d points, more than 30%%", adaptive, grid)
			}
			if ratio > 1.05 {
				t.Errorf("best cost %.4f× the grid optimum, want ≤ 1.05", ratio)
			}
		})
	}
}
