// Package hist is a log-linear (HDR-style) latency histogram: fixed
// memory whatever the number of values, allocation-free recording, exact
// merging, and quantiles within a known relative error.
//
// Values are nanoseconds. Values below 2^(SubBucketBits+1) ns are counted
// exactly; above, each power-of-two range [2^k, 2^(k+1)) is split into
// 2^SubBucketBits equal sub-buckets, so a bucket is at most 2^-SubBucketBits
// of its lower bound wide. Quantiles report a bucket's midpoint, so they are
// within RelativeError (2^-(SubBucketBits+1), 0.39%) of the exact quantile.
//
// A Histogram is NOT safe for concurrent use, on purpose: Record sits on
// the load generator's hot path, so each client goroutine owns its own
// Histogram and the results are merged (Merge) once the load stops.
package hist

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/iaasbench/iaasbench/results"
)

const (
	// SubBucketBits sets the precision: 2^SubBucketBits sub-buckets per
	// power of two. It is fixed at compile time so that the bucket array
	// has a fixed size and Record needs no bounds bookkeeping.
	SubBucketBits = 7

	// maxBits is the bit length of the largest trackable value.
	maxBits = 42

	// MaxValue is the largest value a Histogram tracks, 2^42-1 ns (about
	// 73 minutes); larger values are clamped to it.
	MaxValue int64 = 1<<maxBits - 1

	// NumBuckets is the number of buckets in a Histogram.
	NumBuckets = (maxBits - SubBucketBits + 1) << SubBucketBits

	// RelativeError bounds |Quantile(q) - exact| / exact for values in
	// [1, MaxValue].
	RelativeError = 1.0 / (1 << (SubBucketBits + 1))

	// lowMask covers the values that are counted exactly (one per bucket).
	lowMask = 1<<(SubBucketBits+1) - 1
)

// Histogram counts latencies in log-linear buckets. The zero value is an
// empty histogram ready to use. It takes NumBuckets×8 bytes (36 KiB)
// whatever the count.
type Histogram struct {
	counts [NumBuckets]int64
	count  int64
	min    int64
	max    int64
	// sum is kept as an integer so that Merge is exact and independent of
	// order; it overflows only after ~292 years of summed latency.
	sum int64
}

// New returns an empty Histogram.
func New() *Histogram { return &Histogram{} }

// bucketIndex maps a value in [0, MaxValue] to its bucket.
func bucketIndex(v int64) int {
	// k is the position of v's top bit, but at least SubBucketBits so that
	// small values land in the exact, width-1 region.
	k := bits.Len64(uint64(v)|lowMask) - 1
	shift := k - SubBucketBits
	return shift<<SubBucketBits + int(v>>uint(shift))
}

// bucketRange returns the lowest value of bucket idx and its width.
func bucketRange(idx int) (low, width int64) {
	if idx <= lowMask {
		return int64(idx), 1
	}
	shift := idx>>SubBucketBits - 1
	sub := int64(idx - shift<<SubBucketBits)
	return sub << uint(shift), 1 << uint(shift)
}

// Record adds one latency in nanoseconds. Negative values count as 0 and
// values above MaxValue as MaxValue. It does not allocate.
func (h *Histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0
	} else if ns > MaxValue {
		ns = MaxValue
	}
	h.counts[bucketIndex(ns)]++
	if h.count == 0 {
		h.min, h.max = ns, ns
	} else if ns < h.min {
		h.min = ns
	} else if ns > h.max {
		h.max = ns
	}
	h.count++
	h.sum += ns
}

// Count returns the number of recorded values.
func (h *Histogram) Count() int64 { return h.count }

// Min returns the smallest recorded value, 0 if empty.
func (h *Histogram) Min() int64 { return h.min }

// Max returns the largest recorded value, 0 if empty.
func (h *Histogram) Max() int64 { return h.max }

// Sum returns the sum of the recorded values.
func (h *Histogram) Sum() int64 { return h.sum }

// Mean returns the exact mean of the recorded values, 0 if empty.
func (h *Histogram) Mean() float64 {
	if h.count == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.count)
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) in nanoseconds, by the
// nearest-rank definition: the value at rank ceil(q·count) of the sorted
// values, within RelativeError. Quantile(0) is Min and Quantile(1) is Max.
// It returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) int64 {
	if h.count == 0 {
		return 0
	}
	if !(q > 0) { // also catches NaN
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := int64(math.Ceil(q * float64(h.count)))
	rank = max(1, min(rank, h.count))
	var seen int64
	for idx, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(idx)
			// The midpoint halves the worst-case error; clamping to the
			// exact extremes only ever brings it closer.
			return max(h.min, min(h.max, low+(width-1)/2))
		}
	}
	return h.max // unreachable while counts agree with count
}

// Merge adds other's values to h, exactly as if they had been recorded
// into h. A nil other is a no-op.
func (h *Histogram) Merge(other *Histogram) {
	if other == nil || other.count == 0 {
		return
	}
	for i, c := range other.counts {
		h.counts[i] += c
	}
	if h.count == 0 {
		h.min, h.max = other.min, other.max
	} else {
		h.min = min(h.min, other.min)
		h.max = max(h.max, other.max)
	}
	h.count += other.count
	h.sum += other.sum
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{} }

// Summary returns the latency summary in microseconds.
func (h *Histogram) Summary() results.LatencySummary {
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return results.LatencySummary{
		MinUS:  us(h.Min()),
		MeanUS: h.Mean() / 1e3,
		P50US:  us(h.Quantile(0.50)),
		P90US:  us(h.Quantile(0.90)),
		P95US:  us(h.Quantile(0.95)),
		P99US:  us(h.Quantile(0.99)),
		P999US: us(h.Quantile(0.999)),
		MaxUS:  us(h.Max()),
	}
}

// ToResults returns the serialised form: only non-empty buckets, in
// increasing index order.
func (h *Histogram) ToResults() results.Histogram {
	r := results.Histogram{
		SubBucketBits: SubBucketBits,
		MinNS:         h.min,
		MaxNS:         h.max,
		SumNS:         float64(h.sum),
		Count:         h.count,
		Buckets:       [][2]int64{},
	}
	for i, c := range h.counts {
		if c != 0 {
			r.Buckets = append(r.Buckets, [2]int64{int64(i), c})
		}
	}
	return r
}

// FromResults rebuilds a Histogram from its serialised form. It checks
// that the form was written with the same SubBucketBits and is
// self-consistent (indices in range and increasing, counts positive and
// adding up to Count, Min and Max in the first and last buckets), and
// names the offending field otherwise.
func FromResults(r results.Histogram) (*Histogram, error) {
	if r.SubBucketBits != SubBucketBits {
		return nil, fmt.Errorf("histogram: sub_bucket_bits is %d, this build reads %d", r.SubBucketBits, SubBucketBits)
	}
	h := &Histogram{}
	prev := -1
	var total int64
	for i, b := range r.Buckets {
		idx, c := b[0], b[1]
		if idx < 0 || idx >= NumBuckets {
			return nil, fmt.Errorf("histogram: buckets[%d]: index %d out of range [0, %d)", i, idx, NumBuckets)
		}
		if int(idx) <= prev {
			return nil, fmt.Errorf("histogram: buckets[%d]: index %d not above previous index %d", i, idx, prev)
		}
		if c <= 0 {
			return nil, fmt.Errorf("histogram: buckets[%d]: count %d for index %d, want > 0", i, c, idx)
		}
		prev = int(idx)
		h.counts[idx] = c
		total += c
	}
	if total != r.Count {
		return nil, fmt.Errorf("histogram: count is %d but buckets add up to %d", r.Count, total)
	}
	if r.SumNS < 0 || r.SumNS >= math.MaxInt64 {
		return nil, fmt.Errorf("histogram: sum_ns %g out of range", r.SumNS)
	}
	h.count, h.min, h.max, h.sum = r.Count, r.MinNS, r.MaxNS, int64(r.SumNS)
	if h.count == 0 {
		if h.min != 0 || h.max != 0 || h.sum != 0 {
			return nil, fmt.Errorf("histogram: empty but min_ns=%d max_ns=%d sum_ns=%g", r.MinNS, r.MaxNS, r.SumNS)
		}
		return h, nil
	}
	if h.min < 0 || h.min > MaxValue || bucketIndex(h.min) != int(r.Buckets[0][0]) {
		return nil, fmt.Errorf("histogram: min_ns %d does not fall in the first bucket (index %d)", h.min, r.Buckets[0][0])
	}
	if h.max < 0 || h.max > MaxValue || bucketIndex(h.max) != prev {
		return nil, fmt.Errorf("histogram: max_ns %d does not fall in the last bucket (index %d)", h.max, prev)
	}
	return h, nil
}
