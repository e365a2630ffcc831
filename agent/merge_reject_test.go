package agent_test

import (
	"math"
	"testing"

	"github.com/iaasbench/iaasbench/agent"
	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

// Rejections add up over agents like requests; the rate is recomputed
// from the merged counts, not averaged.
func TestMergeAddsRejections(t *testing.T) {
	h := &hist.Histogram{}
	h.Record(1000)
	hr := h.ToResults()
	a := &results.Measurement{Requests: 90, Rejected: 10, DurationS: 1, ThroughputRPS: 90, OfferedRPS: 100, RejectedRPS: 10, RejectionRate: 0.1,
		Histogram: &hr, Windows: []results.Window{{DurationS: 1, RejectedRPS: 10}}}
	b := &results.Measurement{Requests: 100, DurationS: 1, ThroughputRPS: 100, OfferedRPS: 100, Histogram: &hr, Windows: []results.Window{{DurationS: 1}}}
	m, err := agent.Merge([]*results.Measurement{a, b}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rejected != 10 || m.OfferedRPS != 200 || m.RejectedRPS != 10 || math.Abs(m.RejectionRate-0.05) > 1e-12 || m.Windows[0].RejectedRPS != 10 {
		t.Fatalf("merged: rejected %d offered %g rejected/s %g rate %g window %g", m.Rejected, m.OfferedRPS, m.RejectedRPS, m.RejectionRate, m.Windows[0].RejectedRPS)
	}
}
