package plots

import (
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// A sweep over a model-config field draws like one over a built-in
// dimension: labels name the field, the cost surface spans it.
func TestReportModelConfigDimension(t *testing.T) {
	var recs []results.Record
	for _, d := range []string{"0", "500", "2000"} {
		for _, c := range []int{1, 4, 16} {
			delay := map[string]float64{"0": 0, "500": 0.5, "2000": 2}[d]
			tp := float64(c) * 1000 / (1 + 0.1*float64(c)/(1+delay))
			p99 := 1 + delay + float64(c)*0.2/(1+delay)
			recs = append(recs, results.Record{Kind: results.KindPoint, Status: results.StatusOK, Source: results.SourceMeasured,
				Point: results.Point{GPUs: 1, Instances: 1, Clients: c, Rate: 1, BatchSize: 1, Servers: 1, ModelConfig: "dynamic_batching.max_queue_delay_microseconds=" + d},
				Measurement: &results.Measurement{ThroughputIPS: tp, ThroughputRPS: tp, Requests: 100,
					Latency: results.LatencySummary{P50US: p99 * 500, MeanUS: p99 * 500, P90US: p99 * 800, P95US: p99 * 900, P99US: p99 * 1e3, P999US: p99 * 1.1e3, MaxUS: p99 * 1.2e3}}})
		}
	}
	spec := cost.Spec{Prices: cost.Prices{GPUHour: map[string]float64{"default": 1}, NodeHour: 0.5}, Constraints: []string{"perf_latency_p99 <= 3"},
		Surface: []string{"dynamic_batching.max_queue_delay_microseconds", "clients"}}
	sum, err := Report(recs, spec, t.TempDir(), Options{GridSteps: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sum.Rows[0].Label, "max_queue_delay_us=") {
		t.Errorf("label %q does not name the field", sum.Rows[0].Label)
	}
	for _, f := range sum.Figures {
		if f.File == "cost_surface.png" && (f.Placeholder || !strings.Contains(f.Caption, "dynamic_batching.max_queue_delay_microseconds")) {
			t.Errorf("cost surface: %+v", f)
		}
	}
	if sum.Operating == nil {
		t.Fatal("no operating point")
	}
}
