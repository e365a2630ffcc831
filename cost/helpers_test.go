package cost

import (
	"math"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// rec builds an ok point record with the given throughput (inferences/s)
// and p99 (ms); requests are inferences / batch size.
func rec(p results.Point, ips, p99ms float64) results.Record {
	batch := float64(max(p.BatchSize, 1))
	return results.Record{
		Kind:   "point",
		Point:  p,
		Status: results.StatusOK,
		Source: results.SourceMeasured,
		Measurement: &results.Measurement{
			ThroughputIPS: ips,
			ThroughputRPS: ips / batch,
			Latency: results.LatencySummary{
				P50US: p99ms * 1e3 / 2, P90US: p99ms * 1e3 * 0.8, P95US: p99ms * 1e3 * 0.9,
				P99US: p99ms * 1e3, P999US: p99ms * 1e3 * 1.2, MeanUS: p99ms * 1e3 / 2, MaxUS: p99ms * 1e3 * 1.5,
			},
		},
	}
}

// examplePrices: 1 USD per GPU-hour, 0.5 USD per node-hour.
func examplePrices() Prices {
	return Prices{GPUHour: map[string]float64{"default": 1}, NodeHour: 0.5}
}

func near(t *testing.T, what string, got, want, relTol float64) {
	t.Helper()
	if math.IsInf(want, 0) || want == 0 {
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
		return
	}
	if math.Abs(got-want) > relTol*math.Abs(want) {
		t.Errorf("%s = %v, want %v (±%.3g%%)", what, got, want, relTol*100)
	}
}

func mustEvaluate(t *testing.T, recs []results.Record, spec Spec) []Evaluated {
	t.Helper()
	evs, err := Evaluate(recs, spec)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return evs
}
