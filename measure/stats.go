package measure

import (
	"context"
	"sync"
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

// snapshot reads the model's statistics from every server, at once so
// that they describe the same instant; nil when any server does not
// answer (the breakdown is then left out rather than wrong).
// snapshotAsync starts reading the statistics and returns a function
// that waits for them, so that the caller can drain its histograms at the
// same instant.
func (c *coordinator) snapshotAsync() func() *statSnap {
	ch := make(chan *statSnap, 1)
	go func() { ch <- c.readStats() }()
	return func() *statSnap { return <-ch }
}

func (c *coordinator) readStats() *statSnap {
	all := make([][]*pb.ModelStatistics, len(c.p.targets))
	errs := make([]error, len(c.p.targets))
	var wg sync.WaitGroup
	for i, t := range c.p.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
			defer cancel()
			all[i], errs[i] = t.control.Statistics(ctx, c.o.Model, c.o.Version)
		}()
	}
	wg.Wait()
	s := &statSnap{}
	for i, stats := range all {
		if errs[i] != nil {
			c.o.Logger.Debug("model statistics unavailable", "server", c.p.targets[i].addr, "err", errs[i])
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
