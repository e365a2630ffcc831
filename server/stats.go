package server

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

type durStat struct{ count, ns atomic.Uint64 }

func (d *durStat) add(ns int64) {
	d.count.Add(1)
	if ns > 0 {
		d.ns.Add(uint64(ns))
	}
}

func (d *durStat) pb() *pb.StatisticDuration {
	return &pb.StatisticDuration{Count: d.count.Load(), Ns: d.ns.Load()}
}

type batchStat struct {
	input, infer, output durStat
}

// modelStats are one model version's cumulative statistics, Triton's
// ModelStatistics. Counters are atomics: they sit on every request's path.
type modelStats struct {
	success, fail, queue, computeInput, computeInfer, computeOutput durStat
	inferenceCount, executionCount                                  atomic.Uint64
	lastInferenceMS                                                 atomic.Int64

	// Per batch size: the common sizes in an array read without a lock
	// (every execution records here), larger ones in a map.
	small [smallBatches]atomic.Pointer[batchStat]
	mu    sync.Mutex
	batch map[int]*batchStat // sizes >= smallBatches; guarded by mu
}

// smallBatches bounds the batch sizes whose statistics need no lock.
const smallBatches = 257

func newModelStats() *modelStats { return &modelStats{batch: map[int]*batchStat{}} }

// execution records one model execution of rows inferences.
func (s *modelStats) execution(rows int, inNS, inferNS, outNS int64) {
	s.executionCount.Add(1)
	s.inferenceCount.Add(uint64(rows))
	b := s.batchStat(rows)
	b.input.add(inNS)
	b.infer.add(inferNS)
	b.output.add(outNS)
}

func (s *modelStats) batchStat(rows int) *batchStat {
	if rows >= 0 && rows < smallBatches {
		if b := s.small[rows].Load(); b != nil {
			return b
		}
		s.small[rows].CompareAndSwap(nil, &batchStat{}) // the first execution of this size
		return s.small[rows].Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batch[rows]
	if b == nil {
		b = &batchStat{}
		s.batch[rows] = b
	}
	return b
}

// request records one request's outcome and its share of the execution;
// it took from arrived to end, and end is its last-inference time.
func (s *modelStats) request(ok bool, arrived, end time.Time, queueNS, inNS, inferNS, outNS int64) {
	totalNS := int64(end.Sub(arrived))
	if !ok {
		s.fail.add(totalNS)
		return
	}
	s.success.add(totalNS)
	s.queue.add(queueNS)
	s.computeInput.add(inNS)
	s.computeInfer.add(inferNS)
	s.computeOutput.add(outNS)
	s.lastInferenceMS.Store(end.UnixMilli())
}

func (s *modelStats) pb(name, version string) *pb.ModelStatistics {
	out := &pb.ModelStatistics{
		Name:           name,
		Version:        version,
		LastInference:  uint64(max(s.lastInferenceMS.Load(), 0)),
		InferenceCount: s.inferenceCount.Load(),
		ExecutionCount: s.executionCount.Load(),
		InferenceStats: &pb.InferStatistics{
			Success:       s.success.pb(),
			Fail:          s.fail.pb(),
			Queue:         s.queue.pb(),
			ComputeInput:  s.computeInput.pb(),
			ComputeInfer:  s.computeInfer.pb(),
			ComputeOutput: s.computeOutput.pb(),
			CacheHit:      &pb.StatisticDuration{},
			CacheMiss:     &pb.StatisticDuration{},
		},
	}
	batches := map[int]*batchStat{}
	for k := range s.small {
		if b := s.small[k].Load(); b != nil {
			batches[k] = b
		}
	}
	s.mu.Lock()
	for k, b := range s.batch {
		batches[k] = b
	}
	s.mu.Unlock()
	sizes := make([]int, 0, len(batches))
	for k := range batches {
		sizes = append(sizes, k)
	}
	sort.Ints(sizes)
	for _, k := range sizes {
		b := batches[k]
		out.BatchStats = append(out.BatchStats, &pb.InferBatchStatistics{
			BatchSize:     uint64(k),
			ComputeInput:  b.input.pb(),
			ComputeInfer:  b.infer.pb(),
			ComputeOutput: b.output.pb(),
		})
	}
	return out
}
