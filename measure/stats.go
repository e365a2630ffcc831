package measure

import (
	"context"
	"time"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/results"
)

// dur is a cumulative (count, ns) statistic.
type dur struct{ count, ns uint64 }

func (d *dur) add(s *pb.StatisticDuration) {
	d.count += s.GetCount()
	d.ns += s.GetNs()
}

// statSnap is the model's cumulative statistics summed over the servers
// at one instant.
type statSnap struct {
	success, queue, computeInput, computeInfer, computeOutput dur
	inferences, executions                                    uint64
}

// snapshot reads the model's statistics from every server; nil when any
// server does not answer (the breakdown is then left out rather than
// wrong).
func (c *coordinator) snapshot() *statSnap {
	s := &statSnap{}
	for _, t := range c.p.targets {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		stats, err := t.conns[0].Statistics(ctx, c.o.Model, c.o.Version)
		cancel()
		if err != nil {
			c.o.Logger.Debug("model statistics unavailable", "server", t.addr, "err", err)
			return nil
		}
		for _, ms := range stats {
			is := ms.GetInferenceStats()
			s.success.add(is.GetSuccess())
			s.queue.add(is.GetQueue())
			s.computeInput.add(is.GetComputeInput())
			s.computeInfer.add(is.GetComputeInfer())
			s.computeOutput.add(is.GetComputeOutput())
			s.inferences += ms.GetInferenceCount()
			s.executions += ms.GetExecutionCount()
		}
	}
	return s
}

// breakdown turns two snapshots into the server's time per request, in
// microseconds, and the client's overhead: the client's mean latency
// minus the server's time per request. Nil when either snapshot is
// missing or no request succeeded in between.
func breakdown(a, b *statSnap, clientMeanUS float64) *results.Breakdown {
	if a == nil || b == nil || b.success.count <= a.success.count {
		return nil
	}
	per := func(x, y dur) float64 {
		n := y.count - x.count
		if n == 0 || y.ns < x.ns {
			return 0
		}
		return float64(y.ns-x.ns) / float64(n) / 1e3
	}
	out := &results.Breakdown{
		QueueUS:         per(a.queue, b.queue),
		ComputeInputUS:  per(a.computeInput, b.computeInput),
		ComputeInferUS:  per(a.computeInfer, b.computeInfer),
		ComputeOutputUS: per(a.computeOutput, b.computeOutput),
		InferenceCount:  b.inferences - a.inferences,
		ExecutionCount:  b.executions - a.executions,
		RequestCount:    b.success.count - a.success.count,
	}
	server := per(a.success, b.success)
	if parts := out.QueueUS + out.ComputeInputUS + out.ComputeInferUS + out.ComputeOutputUS; parts > server {
		server = parts // a server that does not report request durations
	}
	out.ClientOverheadUS = max(0, clientMeanUS-server)
	return out
}
