package scenarios

import (
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// ClientLoad is what one point of a sweep asks of each client. A point's
// `rate` coordinate (results.Point.Rate, the `rate` dimension) means one
// of two things, depending on the workload, and Workload.ClientLoad is the
// one place that tells which: the sweep's measurer and the simulator both
// read it.
type ClientLoad struct {
	// Concurrency is how many requests each closed-loop client keeps in
	// flight: the point's rate, in whole requests (at least 1), for a
	// plain closed loop; 1 for sequences and data budgets, which send one
	// request at a time, in order; 0 in open loop.
	Concurrency int
	// Rate is each open-loop client's request rate in requests per second
	// (with frames, per 1 s frame): the point's rate; 0 in closed loop.
	Rate float64
	// SamplingRate is the inference sampling rate r, requests per second
	// of data, for sequences (and so data budgets) and open loop: the
	// point's rate; 0 for a plain closed loop, where rate is a
	// concurrency.
	SamplingRate float64
}

// ClientLoad decodes point p's rate coordinate under w (see ClientLoad).
func (w Workload) ClientLoad(p results.Point) ClientLoad {
	var l ClientLoad
	if w.Mode == workload.ModeOpen {
		l.Rate = p.Rate
	}
	if w.Sequence || w.Mode == workload.ModeOpen {
		l.SamplingRate = p.Rate
	}
	if w.Mode == workload.ModeClosed {
		l.Concurrency = 1
		if !w.Sequence && w.DataSeconds <= 0 {
			l.Concurrency = max(int(p.Rate), 1)
		}
	}
	return l
}
