package hist

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/iaasbench/iaasbench/results"
)

// distributions of latencies in ns that a load test meets, including a
// heavy tail and values spanning the whole range.
var distributions = map[string]func(r *rand.Rand) int64{
	"uniform_100us_10ms": func(r *rand.Rand) int64 { return 100_000 + r.Int64N(9_900_000) },
	"lognormal_1ms": func(r *rand.Rand) int64 {
		return int64(math.Exp(math.Log(1e6) + 0.5*r.NormFloat64()))
	},
	"pareto_heavy_tail": func(r *rand.Rand) int64 {
		// alpha 1.2: mean barely finite, p99.9 far above p50.
		return int64(50_000 / math.Pow(1-r.Float64(), 1/1.2))
	},
	"exponential_200us":   func(r *rand.Rand) int64 { return int64(200_000 * r.ExpFloat64()) },
	"small_exact_0_300ns": func(r *rand.Rand) int64 { return r.Int64N(300) },
	"log_uniform_full_range": func(r *rand.Rand) int64 {
		return int64(math.Exp(r.Float64() * math.Log(float64(MaxValue))))
	},
}

var quantiles = []float64{0, 0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1}

// exactQuantile is the nearest-rank quantile of sorted values, the
// definition Quantile documents.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func TestQuantileWithinRelativeError(t *testing.T) {
	for name, gen := range distributions {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			const n = 50_000
			vals := make([]int64, n)
			h := New()
			var sum int64
			for i := range vals {
				vals[i] = min(gen(r), MaxValue)
				h.Record(vals[i])
				sum += vals[i]
			}
			slices.Sort(vals)
			for _, q := range quantiles {
				got, want := h.Quantile(q), exactQuantile(vals, q)
				if err := math.Abs(float64(got-want)) / math.Max(1, float64(want)); err > RelativeError {
					t.Errorf("q=%g: got %d, exact %d, relative error %.4f%% > %.4f%%", q, got, want, 100*err, 100*RelativeError)
				}
			}
			if h.Min() != vals[0] || h.Max() != vals[n-1] || h.Count() != n {
				t.Errorf("min/max/count = %d/%d/%d, want %d/%d/%d", h.Min(), h.Max(), h.Count(), vals[0], vals[n-1], n)
			}
			if want := float64(sum) / n; h.Mean() != want {
				t.Errorf("mean %g, want exact %g", h.Mean(), want)
			}
		})
	}
}

func TestRelativeErrorBelowOnePercent(t *testing.T) {
	if RelativeError >= 0.01 {
		t.Fatalf("RelativeError %g, promised < 1%%", RelativeError)
	}
}

func TestBucketIndexRoundTrip(t *testing.T) {
	// Every bucket's range maps back to it, ranges tile [0, MaxValue]
	// without gaps, and widths respect the precision.
	next := int64(0)
	for idx := range NumBuckets {
		low, width := bucketRange(idx)
		if low != next {
			t.Fatalf("bucket %d starts at %d, want %d (gap or overlap)", idx, low, next)
		}
		if bucketIndex(low) != idx || bucketIndex(low+width-1) != idx {
			t.Fatalf("bucket %d [%d, %d] does not map back", idx, low, low+width-1)
		}
		if width > 1 && float64(width) > float64(low)/(1<<SubBucketBits) {
			t.Fatalf("bucket %d width %d too wide for low %d", idx, width, low)
		}
		next = low + width
	}
	if next-1 != MaxValue {
		t.Fatalf("last bucket ends at %d, want MaxValue %d", next-1, MaxValue)
	}
}

func TestClampAndEmpty(t *testing.T) {
	h := New()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram should report zeros")
	}
	if s := h.Summary(); s != (results.LatencySummary{}) {
		t.Fatalf("empty summary %+v", s)
	}
	h.Record(-5)
	h.Record(MaxValue + 1_000_000)
	if h.Min() != 0 || h.Max() != MaxValue || h.Count() != 2 {
		t.Fatalf("clamp: min %d max %d count %d", h.Min(), h.Max(), h.Count())
	}
	if h.Quantile(1) != MaxValue || h.Quantile(0.5) != 0 {
		t.Fatalf("clamped quantiles: p50 %d p100 %d", h.Quantile(0.5), h.Quantile(1))
	}
	h.Reset()
	if h.Count() != 0 || h.Max() != 0 || len(h.ToResults().Buckets) != 0 {
		t.Fatal("Reset did not empty the histogram")
	}
}

func TestMergeEqualsUnion(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const k = 8
	parts := make([]*Histogram, k)
	union := New()
	for i := range parts {
		parts[i] = New()
		gen := distributions["pareto_heavy_tail"]
		if i%2 == 1 {
			gen = distributions["lognormal_1ms"]
		}
		for range 1000 + 500*i {
			v := gen(r)
			parts[i].Record(v)
			union.Record(v)
		}
	}
	parts = append(parts, New()) // an empty part must not disturb min
	merged := New()
	for _, p := range parts {
		merged.Merge(p)
	}
	merged.Merge(nil)
	if !reflect.DeepEqual(merged.ToResults(), union.ToResults()) {
		t.Fatal("merge of parts differs from histogram of the union")
	}
	if *merged != *union {
		t.Fatal("merged internal state differs from union")
	}
	for _, q := range quantiles {
		if merged.Quantile(q) != union.Quantile(q) {
			t.Errorf("q=%g: merged %d, union %d", q, merged.Quantile(q), union.Quantile(q))
		}
	}
}

func TestResultsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	h := New()
	for range 20_000 {
		h.Record(distributions["log_uniform_full_range"](r))
	}
	// Through JSON too, as the results file stores it.
	data, err := json.Marshal(h.ToResults())
	if err != nil {
		t.Fatal(err)
	}
	var rh results.Histogram
	if err := json.Unmarshal(data, &rh); err != nil {
		t.Fatal(err)
	}
	back, err := FromResults(rh)
	if err != nil {
		t.Fatal(err)
	}
	if *back != *h {
		t.Fatal("round trip through results.Histogram changed the histogram")
	}
	empty, err := FromResults(New().ToResults())
	if err != nil || empty.Count() != 0 {
		t.Fatalf("empty round trip: %v, count %d", err, empty.Count())
	}
}

func TestFromResultsRejectsBadInput(t *testing.T) {
	h := New()
	for _, v := range []int64{10, 1000, 100_000} {
		h.Record(v)
	}
	good := h.ToResults()
	cases := map[string]struct {
		edit func(r *results.Histogram)
		want string
	}{
		"bits":          {func(r *results.Histogram) { r.SubBucketBits = 8 }, "sub_bucket_bits"},
		"index_range":   {func(r *results.Histogram) { r.Buckets[2][0] = NumBuckets }, "out of range"},
		"negative":      {func(r *results.Histogram) { r.Buckets[0][0] = -1 }, "out of range"},
		"order":         {func(r *results.Histogram) { r.Buckets[1][0] = r.Buckets[0][0] }, "not above"},
		"zero_count":    {func(r *results.Histogram) { r.Buckets[1][1] = 0 }, "want > 0"},
		"count_sum":     {func(r *results.Histogram) { r.Count = 4 }, "add up"},
		"min_elsewhere": {func(r *results.Histogram) { r.MinNS = 500 }, "min_ns"},
		"max_elsewhere": {func(r *results.Histogram) { r.MaxNS = 500 }, "max_ns"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := good
			r.Buckets = slices.Clone(good.Buckets)
			c.edit(&r)
			_, err := FromResults(r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestSummaryMicroseconds(t *testing.T) {
	h := New()
	for v := int64(1); v <= 100; v++ {
		h.Record(v * 1000) // 1..100 µs
	}
	s := h.Summary()
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*RelativeError }
	if s.MinUS != 1 || s.MaxUS != 100 || s.MeanUS != 50.5 {
		t.Errorf("min/mean/max = %g/%g/%g µs, want 1/50.5/100", s.MinUS, s.MeanUS, s.MaxUS)
	}
	for _, c := range []struct{ got, want float64 }{{s.P50US, 50}, {s.P90US, 90}, {s.P95US, 95}, {s.P99US, 99}, {s.P999US, 100}} {
		if !near(c.got, c.want) {
			t.Errorf("quantile %g µs, want ~%g µs", c.got, c.want)
		}
	}
}

func TestMemoryIndependentOfCount(t *testing.T) {
	h := New()
	r := rand.New(rand.NewPCG(7, 8))
	vals := make([]int64, 4096)
	for i := range vals {
		vals[i] = distributions["log_uniform_full_range"](r)
	}
	i := 0
	allocs := testing.AllocsPerRun(200_000, func() {
		h.Record(vals[i%len(vals)])
		i++
	})
	if allocs != 0 {
		t.Fatalf("Record allocates %g times per call", allocs)
	}
	// The type has a fixed size and the serialised form is bounded by the
	// number of buckets, however many values were recorded.
	if got, want := unsafe.Sizeof(Histogram{}), uintptr(NumBuckets*8+4*8); got != want {
		t.Fatalf("Histogram is %d bytes, want %d", got, want)
	}
	if n := len(h.ToResults().Buckets); n > NumBuckets {
		t.Fatalf("%d serialised buckets > %d", n, NumBuckets)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	vals := make([]int64, 1024) // power of two: cheap index in the loop
	for i := range vals {
		vals[i] = distributions["lognormal_1ms"](r)
	}
	h := New()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Record(vals[i&(len(vals)-1)])
		i++
	}
}

func BenchmarkSummary(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	h := New()
	for range 100_000 {
		h.Record(distributions["lognormal_1ms"](r))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Summary()
	}
}
