// Package agent spreads one measurement over several load-generating
// processes: a Coordinator hands each Agent its share of the plan, agents
// measure with package measure and return counts, time-aligned windows and
// mergeable latency histograms (never percentiles, which cannot be
// merged), and the coordinator merges them exactly. An agent lost
// mid-point makes the point incomplete, never silently wrong.
package agent

import (
	"errors"
	"fmt"
	"math"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

// Merge combines the measurements of agents that drove the same servers
// over the same window. Counts and throughputs add; latency comes from the
// union of the agents' histograms; the server-side breakdown is the
// servers' own (identical for every agent), taken from the first agent
// that has one. Window i of the result adds the agents' window i; its p99
// is the largest of theirs (an upper bound: per-window histograms are not
// carried). A missing part makes the result incomplete.
func Merge(parts []*results.Measurement, want int) (*results.Measurement, error) {
	var got []*results.Measurement
	for _, p := range parts {
		if p != nil {
			got = append(got, p)
		}
	}
	if len(got) == 0 {
		return nil, errors.New("merge: no agent returned a measurement")
	}
	out := *got[0]
	out.Histogram, out.Windows, out.Server, out.Telemetry = nil, nil, nil, nil
	out.Requests, out.Inferences, out.Errors, out.Rejected = 0, 0, 0, 0
	out.ThroughputIPS, out.ThroughputRPS, out.DataRate, out.DurationS = 0, 0, 0, 0
	out.OfferedRPS, out.RejectedRPS, out.RejectionRate = 0, 0, 0
	out.Stable, out.Incomplete, out.Error = true, false, ""
	total := &hist.Histogram{}
	for i, p := range got {
		if p.Histogram == nil {
			return nil, fmt.Errorf("merge: agent %d returned no histogram", i)
		}
		h, err := hist.FromResults(*p.Histogram)
		if err != nil {
			return nil, fmt.Errorf("merge: agent %d: %w", i, err)
		}
		total.Merge(h)
		out.Requests += p.Requests
		out.Inferences += p.Inferences
		out.Errors += p.Errors
		out.Rejected += p.Rejected
		out.OfferedRPS += p.OfferedRPS
		out.RejectedRPS += p.RejectedRPS
		out.ThroughputRPS += p.ThroughputRPS
		out.ThroughputIPS += p.ThroughputIPS
		out.DataRate += p.DataRate
		out.DurationS = math.Max(out.DurationS, p.DurationS)
		out.Stable = out.Stable && p.Stable
		if p.Start.Before(out.Start) {
			out.Start = p.Start
		}
		if p.Incomplete {
			out.Incomplete = true
			out.Error = joinErr(out.Error, fmt.Sprintf("agent %d: %s", i, p.Error))
		}
		if out.Server == nil && p.Server != nil {
			s := *p.Server
			out.Server = &s
		}
		if out.Telemetry == nil && p.Telemetry != nil {
			t := *p.Telemetry
			out.Telemetry = &t
		}
		for k, w := range p.Windows {
			if k >= len(out.Windows) {
				out.Windows = append(out.Windows, w)
				continue
			}
			mw := &out.Windows[k]
			mw.ThroughputIPS += w.ThroughputIPS
			mw.RejectedRPS += w.RejectedRPS
			mw.P99US = math.Max(mw.P99US, w.P99US)
			mw.DurationS = math.Max(mw.DurationS, w.DurationS)
		}
	}
	if offered := out.Requests + out.Rejected + out.Errors; offered > 0 {
		out.RejectionRate = float64(out.Rejected) / float64(offered)
	}
	out.Latency = total.Summary()
	h := total.ToResults()
	out.Histogram = &h
	if out.Server != nil {
		out.Server.ClientOverheadUS = out.Latency.MeanUS - (out.Server.QueueUS + out.Server.ComputeInputUS + out.Server.ComputeInferUS + out.Server.ComputeOutputUS)
	}
	if len(got) < want {
		out.Incomplete = true
		out.Error = joinErr(out.Error, fmt.Sprintf("%d of %d agents returned no result: their load is missing from these figures", want-len(got), want))
	}
	return &out, nil
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
