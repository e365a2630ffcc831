package sweep

import (
	"math"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// delaySystem is a server whose dynamic batcher trades latency for
// capacity: a longer max_queue_delay raises what it can serve (bigger
// batches) and adds to every request's p99.
type delaySystem struct{}

func (delaySystem) record(p results.Point, trial int) results.Record {
	d, err := p.Coord("dynamic_batching.max_queue_delay_microseconds")
	if err != nil {
		panic(err)
	}
	capacity := 1000 * (1 + 3*d/(d+500))
	offered := 300 * float64(p.Clients)
	t := math.Pow(math.Pow(capacity, -4)+math.Pow(offered, -4), -0.25)
	p99 := 1 + d/1000 + 3*float64(p.Clients)/t*1e3/10
	return results.Record{Kind: results.KindPoint, Point: p, Trial: trial, Attempt: 1, Status: results.StatusOK, Source: results.SourceSimulated,
		Measurement: &results.Measurement{ThroughputIPS: t, ThroughputRPS: t, Requests: 1000,
			Latency: results.LatencySummary{P50US: p99 * 500, MeanUS: p99 * 500, P90US: p99 * 800, P95US: p99 * 900, P99US: p99 * 1e3, P999US: p99 * 1.2e3, MaxUS: p99 * 2e3}}}
}

// The adaptive search moves along a model-config field like along any
// dimension: it reaches the grid's best point measuring part of it.
func TestAdaptiveSearchesModelConfig(t *testing.T) {
	dims := `clients: {from: 1, to: 64, factor: 2}
model_config:
  dynamic_batching:
    max_queue_delay_microseconds: [0, 100, 200, 400, 700, 1000, 1500, 2000, 3000, 4000]`
	costYAML := `prices: {node_hour: 1}
constraints: ["perf_latency_p99 <= 4"]
objective: usd_per_million`
	s := searchScenario(t, dims, costYAML, "strategy: adaptive")
	if got := strings.Join(s.Varied(), ","); got != "clients,dynamic_batching.max_queue_delay_microseconds" {
		t.Fatalf("varied %s", got)
	}
	a := mustNewAdaptive(t, s)
	recs, why := driveSearch(t, a, s, delaySystem{})
	grid := measureGrid(t, s, delaySystem{})
	best, found := bestFeasibleOf(t, s, grid), bestFeasibleOf(t, s, recs)
	if found == nil {
		t.Fatalf("adaptive found nothing feasible (%s)", why)
	}
	n := distinctPoints(recs)
	if n >= len(s.Points()) {
		t.Errorf("measured %d of %d points: no saving", n, len(s.Points()))
	}
	if found.Cost > best.Cost*1.05 {
		t.Errorf("adaptive best %s at %.4g, grid best %s at %.4g (%d of %d points measured; %s)", found.Point, found.Cost, best.Point, best.Cost, n, len(s.Points()), why)
	}
	t.Logf("adaptive: %d of %d points, best %s (grid best %s); stopped: %s", n, len(s.Points()), found.Point, best.Point, why)
}

func TestAdaptiveRefusesNamedConfigValues(t *testing.T) {
	s := searchScenario(t, "clients: [1, 2, 4]\nmodel_config:\n  - {instance_group: [{kind: KIND_CPU}]}\n  - {instance_group: [{kind: KIND_GPU}]}",
		"prices: {node_hour: 1}", "strategy: adaptive")
	if _, err := NewAdaptive(s); err == nil || !strings.Contains(err.Error(), "instance_group.kind") {
		t.Errorf("got %v, want an error naming instance_group.kind", err)
	}
}
