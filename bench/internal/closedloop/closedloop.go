// Package closedloop is the minimal load loop the benchmarks in bench/
// compare iaasbench against: conc goroutines, each calling body again as
// soon as it returns, a warm-up, then a measured span. It is the
// practical limit of a Go client, so it must stay this small.
package closedloop

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is what one run of the loop did.
type Outcome struct {
	RPS   float64       // answered requests per second in the measured span
	P50   time.Duration // median latency in the measured span
	Total int64         // requests answered, warm-up included (for CPU per request)
}

// Run calls body on conc goroutines for warm, then records latencies for
// dur. body returns one request's latency; the first error stops its
// goroutine and fails the run.
func Run(conc int, warm, dur time.Duration, body func(g int) (time.Duration, error)) (Outcome, error) {
	var phase atomic.Int32 // 0 warm-up, 1 measuring, 2 stop
	var total atomic.Int64
	lats := make([][]time.Duration, conc)
	errs := make([]error, conc)
	var wg sync.WaitGroup
	for g := 0; g < conc; g++ {
		lats[g] = make([]time.Duration, 0, 1024) // grows as needed: a large preallocation would make GC rarer than in any real client
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p := phase.Load()
				if p == 2 {
					return
				}
				d, err := body(g)
				if err != nil {
					errs[g] = err
					return
				}
				total.Add(1)
				// A request that began in warm-up and ended after it is
				// not recorded; one still running at the stop is not.
				if p == 1 && phase.Load() == 1 {
					lats[g] = append(lats[g], d)
				}
			}
		}()
	}
	time.Sleep(warm)
	phase.Store(1)
	t0 := time.Now()
	time.Sleep(dur)
	phase.Store(2)
	el := time.Since(t0)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Outcome{}, err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return Outcome{}, errors.New("no request completed")
	}
	slices.Sort(all)
	return Outcome{RPS: float64(len(all)) / el.Seconds(), P50: all[(len(all)+1)/2-1], Total: total.Load()}, nil
}
