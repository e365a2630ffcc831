package simulate

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// sampleQuantiles returns n equally likely values (at (k+½)/n) of the sorted
// sample xs.
func sampleQuantiles(xs []time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for k := range out {
		out[k] = xs[(2*k+1)*len(xs)/(2*n)]
	}
	return out
}

// heavy draws n values with a body near body and an exponential tail of
// the given mean hit with probability p, sorted.
func heavy(r *rand.Rand, n int, body, tail time.Duration, p float64) []time.Duration {
	xs := make([]time.Duration, n)
	for i := range xs {
		xs[i] = body + time.Duration(r.Float64()*float64(body)/5)
		if r.Float64() < p {
			xs[i] += time.Duration(r.ExpFloat64() * float64(tail))
		}
	}
	slices.Sort(xs)
	return xs
}

func TestSumQuantilesMatchesSortedSums(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a, b := heavy(r, 300, 200*time.Microsecond, time.Millisecond, 0.05), heavy(r, 200, 1400*time.Microsecond, 400*time.Microsecond, 0.05)
	var sums []time.Duration
	for _, x := range a {
		for _, y := range b {
			sums = append(sums, x+y)
		}
	}
	slices.Sort(sums)
	want := sampleQuantiles(sums, 100)
	got := sumQuantiles(a, b, 100)
	for k := range want {
		if d := got[k] - want[k]; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("quantile %d of the sum: %v, want %v (±1 µs, the bin)", k, got[k], want[k])
		}
	}
}

// A latency that is an overhead plus an independent device call: taking
// the call's quantiles from the latency's leaves an overhead whose
// independent sums are too thin in the tail; deconvolve recovers the tail.
func TestDeconvolveRecoversTheSumsTail(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 1000
	overhead := sampleQuantiles(heavy(r, 100*n, 170*time.Microsecond, 700*time.Microsecond, 0.03), n)
	call := sampleQuantiles(heavy(r, 100*n, 1400*time.Microsecond, 500*time.Microsecond, 0.03), n)
	latency := sumQuantiles(overhead, call, n)

	guess := make([]time.Duration, n)
	for i := range guess {
		guess[i] = max(latency[i]-call[i], 0)
	}
	p99 := func(o []time.Duration) time.Duration { return sumQuantiles(o, call, n)[990] }
	thin := p99(guess)
	if rel := float64(latency[990]-thin) / float64(latency[990]); rel < 0.05 {
		t.Fatalf("the subtracted guess reproduces p99 %v of %v: this test needs a case where it falls short", thin, latency[990])
	}
	o := deconvolve(latency, call, guess)
	if !slices.IsSorted(o) || o[0] < 0 {
		t.Fatal("the deconvolved overhead is not sorted non-negative values")
	}
	sum := sumQuantiles(o, call, n)
	for _, k := range []int{500, 900, 990} {
		if rel := math.Abs(float64(sum[k]-latency[k])) / float64(latency[k]); rel > 0.03 {
			t.Errorf("quantile %.3f: overhead ⊕ call gives %v, the latency %v (%.1f%% off; the subtracted guess gave %v)",
				(float64(k)+0.5)/n, sum[k], latency[k], 100*rel, sumQuantiles(guess, call, n)[k])
		}
	}
}

func TestDrawQuantileInterpolates(t *testing.T) {
	q := []float64{1, 2, 4, 8}
	for _, c := range []struct{ u, want float64 }{
		{0, 1}, {0.1, 1}, {0.125, 1}, {0.25, 1.5}, {0.375, 2}, {0.5, 3}, {0.875, 8}, {0.99, 8},
	} {
		if got := drawQuantile(q, c.u); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("drawQuantile(%v, %v) = %v, want %v", q, c.u, got, c.want)
		}
	}
}

func TestLengthenSimulatesLongerWindows(t *testing.T) {
	s := builtin(t, "sim-validation")
	m, err := LookupModel(s)
	if err != nil {
		t.Fatal(err)
	}
	p := results.Point{GPUs: 1, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8, Servers: 1}
	opts := Options{Profile: CalibratedProfile(m, s.Server.Calibrated)}
	short, err := PointConfig(s, p, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Lengthen = 10
	long, err := PointConfig(s, p, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if long.Duration != 10*short.Duration || long.Warmup != short.Warmup {
		t.Fatalf("lengthened: duration %v warm-up %v, want 10 × %v after %v", long.Duration, long.Warmup, short.Duration, short.Warmup)
	}
	rec := Point(context.Background(), s, p, m, opts)
	if rec.Measurement == nil {
		t.Fatal(rec.Reason)
	}
	if got, want := rec.Measurement.DurationS, long.Duration.Seconds(); math.Abs(got-want) > 0.01*want {
		t.Errorf("record covers %.2fs, want %.2fs", got, want)
	}
}

// Device calls recorded at points with 1, 2 and 4 GPUs busy, each call
// 20 µs later per further busy GPU: the fit finds those 20 µs, and the
// simulator's calls on four busy GPUs grow by them.
func TestExcessGrowsWithBusyDevices(t *testing.T) {
	s := builtin(t, "sim-validation")
	const svc = 1400 * time.Microsecond
	service := func(int) time.Duration { return svc }
	r := rand.New(rand.NewPCG(5, 6))
	var recs []results.Record
	for _, busy := range []int{1, 2, 4} {
		h := hist.New()
		for range 20000 {
			h.Record(int64(svc + 30*time.Microsecond + time.Duration(busy-1)*20*time.Microsecond + time.Duration(r.IntN(10000))))
		}
		dc := h.ToResults()
		recs = append(recs, results.Record{Status: results.StatusOK, Point: results.Point{GPUs: 4, Instances: 1, Clients: busy, Rate: 1, BatchSize: 8, Servers: 1},
			Measurement: &results.Measurement{Requests: 1000, ThroughputRPS: float64(busy) / (h.Mean() / 1e9), DeviceCalls: &dc}})
	}
	base := CalibrateExcess(recs, s, service)
	if len(base) == 0 {
		t.Fatal("no excess fitted from the one-client point")
	}
	per := CalibrateExcessPerBusyDevice(recs, s, service, base)
	if len(per) != len(base) {
		t.Fatalf("%d increments for %d excess quantiles", len(per), len(base))
	}
	for _, k := range []int{100, 500, 900} {
		// The histogram resolves ~0.5% (7 µs at 1.4 ms).
		if d := per[k] - 20*time.Microsecond; d < -4*time.Microsecond || d > 4*time.Microsecond {
			t.Errorf("quantile %d: %v per busy GPU, want 20±4µs", k, per[k])
		}
	}

	// Four clients on four GPUs: four calls at once, each 3 × 20 µs later.
	cfg := Config{Servers: 1, GPUs: 4, Instances: 1, Clients: 4, Mode: workload.ModeClosed, Concurrency: 1, BatchSize: 1,
		ServiceTime: service, ServiceExcess: base, Duration: 2 * time.Second, Seed: 1, Host: &HostModel{Cores: 4}}
	without, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host = &HostModel{Cores: 4, ExcessPerBusyDevice: per}
	with, err := Simulate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := float64(with.Latency.Mean()-without.Latency.Mean()) / 1e3
	if got < 50 || got > 70 {
		t.Errorf("calls on four busy GPUs grew the mean latency by %.1fµs, want ~60µs", got)
	}
}
