package sweep_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/sweep"
)

// An open-loop sweep past saturation measures every point: the saturated
// one records its rejections, its goodput and the load it was offered,
// and is a point like any other (status ok), so that the knee can be drawn.
func TestOpenLoopPastSaturationIsMeasured(t *testing.T) {
	s := parse(t, `
name: knee
workload: {model: calibrated, mode: open, rpc: unary}
dimensions:
  clients: [2]
  rate: [25, 500]
server:
  dynamic_batching: true
  max_queue_size: 4
  calibrated: {base_us: 0, per_item_us: 5000}
measure: {warmup: 100ms, duration: 500ms}
cost:
  prices: {node_hour: 1}
  objective: usd_per_million
  constraints: ["rejection_rate <= 1%"]
`)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	sum, err := sweep.Run(context.Background(), sweep.Options{Attempts: 2, Scenario: s, ResultsPath: path, Measure: sweep.MeasureWith(quiet(), nil), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byRate := map[float64]*results.Measurement{}
	for _, r := range results.Points(recs) {
		if r.Status != results.StatusOK || r.Measurement == nil {
			t.Fatalf("point %s: %s %s", r.Point.Key(), r.Status, r.Reason)
		}
		byRate[r.Point.Rate] = r.Measurement
	}
	if len(byRate) != 2 || sum.Measured != 2 {
		t.Fatalf("%d points, %d measured; want 2", len(byRate), sum.Measured)
	}
	// 2 clients × 500/s against one instance of 5 ms per inference (at most
	// 200/s) and a queue of 4: most requests are refused.
	over := byRate[500]
	if over.Rejected == 0 || over.Errors != 0 || over.Requests == 0 {
		t.Fatalf("saturated point: requests %d rejected %d errors %d", over.Requests, over.Rejected, over.Errors)
	}
	if over.ThroughputRPS >= over.OfferedRPS || over.RejectionRate <= 0.01 {
		t.Errorf("saturated point: goodput %g of %g offered, rejection rate %g", over.ThroughputRPS, over.OfferedRPS, over.RejectionRate)
	}
}
