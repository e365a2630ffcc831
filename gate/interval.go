package gate

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Interval is a confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Level is the confidence the interval has: at least the one asked
	// for where it is exact (order statistics jump in steps), the asked
	// one where it comes from the normal approximation.
	Level float64 `json:"level"`
}

// uCounts returns, for samples of n1 and n2 values without ties, how many
// of the C(n1+n2, n1) equally likely arrangements give each value
// 0..n1·n2 of the Mann-Whitney U: the coefficients of the Gaussian
// binomial [n1+n2 choose n1]_q = ∏_{i=1..n1} (1−q^(n2+i))/(1−q^i).
// Multiplying and dividing factor by factor keeps every intermediate a
// polynomial with integer coefficients below 2·C(n1+n2, n1), exact in
// float64 up to 25+25 values.
func uCounts(n1, n2 int) []float64 {
	c := make([]float64, n1*n2+n1+1)
	c[0] = 1
	for i := 1; i <= n1; i++ {
		k := n2 + i
		for d := len(c) - 1; d >= k; d-- { // × (1 − q^k)
			c[d] -= c[d-k]
		}
		for d := i; d < len(c); d++ { // ÷ (1 − q^i): a running sum with stride i
			c[d] += c[d-i]
		}
	}
	return c[:n1*n2+1]
}

// RatioCI is the Hodges-Lehmann estimate of the ratio cand/base under a
// scale model (cand is distributed as base times a constant) and its
// distribution-free confidence interval: the median and order statistics
// of the n1·n2 pairwise log-ratios log(c_j) − log(b_i), the critical
// order statistic taken from the exact null distribution of the
// Mann-Whitney U (without ties) when both samples have at most 25 values,
// else from its normal approximation. This is R's
//
//	exp(wilcox.test(log(cand), log(base), conf.int = TRUE, conf.level = conf)[c("estimate", "conf.int")])
//
// in the exact case. The ratio is estimated rather than a difference
// because the gate's thresholds are relative, and because it makes the
// threshold test exact: "the candidate is worse by more than 5%" is a
// shift of log-values by log(0.95). ci is nil when the sample sizes cannot
// attain conf (e.g. 3 values a side at 95%). Values must be positive and
// finite.
func RatioCI(base, cand []float64, conf float64) (ratio float64, ci *Interval, err error) {
	if len(base) == 0 || len(cand) == 0 {
		return 0, nil, fmt.Errorf("ratio: empty sample (%d and %d values)", len(base), len(cand))
	}
	if !(conf > 0 && conf < 1) {
		return 0, nil, fmt.Errorf("ratio: confidence %v, want 0 < conf < 1", conf)
	}
	for _, s := range [][]float64{base, cand} {
		for _, v := range s {
			if !(v > 0) || math.IsInf(v, 0) {
				return 0, nil, errors.New("ratio: values must be positive and finite, got " + formatValue(v))
			}
		}
	}
	n1, n2 := len(cand), len(base)
	d := make([]float64, 0, n1*n2)
	for _, c := range cand {
		for _, b := range base {
			d = append(d, math.Log(c)-math.Log(b))
		}
	}
	sort.Float64s(d)
	n := len(d)
	ratio = math.Exp(median(d))
	alpha := 1 - conf
	var qu int // 1-based order statistic of the lower bound
	level := conf
	if n1 <= exactLimit && n2 <= exactLimit {
		counts := uCounts(n1, n2)
		total := binom(n1+n2, n1)
		cum := 0.0
		for q, c := range counts { // qu = qwilcox(alpha/2, n1, n2)
			cum += c
			if cum/total >= alpha/2 {
				qu = q
				break
			}
		}
		if qu == 0 {
			return ratio, nil, nil
		}
		below := 0.0 // P(U <= qu-1)
		for _, c := range counts[:qu] {
			below += c
		}
		level = 1 - 2*below/total
	} else {
		mu := float64(n) / 2
		sd := math.Sqrt(float64(n1) * float64(n2) * float64(n1+n2+1) / 12)
		z := -normalQuantile(alpha / 2)
		qu = max(1, int(math.Ceil(mu-0.5-z*sd)))
	}
	return ratio, &Interval{Low: math.Exp(d[qu-1]), High: math.Exp(d[n-qu]), Level: level}, nil
}

// MedianCI is the distribution-free confidence interval of a sample's
// median from its order statistics: [x(j), x(n−j+1)] with j the largest
// index whose interval still covers the median with probability conf,
// P(B <= j−1) <= (1−conf)/2 for B ~ Binomial(n, 1/2). In R:
//
//	j <- qbinom((1 - conf)/2, n, 0.5); sort(x)[c(j, n - j + 1)]
//
// It is nil when n is too small to attain conf (fewer than 6 values at
// 95%).
func MedianCI(v []float64, conf float64) *Interval {
	n := len(v)
	if n == 0 || !(conf > 0 && conf < 1) {
		return nil
	}
	half := (1 - conf) / 2
	cum, j := 0.0, -1
	for k := 0; k <= n; k++ {
		cum += binomHalf(n, k)
		if cum >= half {
			j = k // qbinom(half, n, 0.5)
			break
		}
	}
	if j <= 0 {
		return nil
	}
	below := cum - binomHalf(n, j) // P(B <= j-1)
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return &Interval{Low: s[j-1], High: s[n-j], Level: 1 - 2*below}
}

// binomHalf is P(B = k) for B ~ Binomial(n, 1/2).
func binomHalf(n, k int) float64 {
	ln, _ := math.Lgamma(float64(n + 1))
	lk, _ := math.Lgamma(float64(k + 1))
	lnk, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(ln - lk - lnk - float64(n)*math.Ln2)
}

// Holm returns the Holm-Bonferroni adjusted p-values of p, in p's order:
// the k-th smallest becomes max over j <= k of min(1, (m−j+1)·p(j)).
// Rejecting every hypothesis whose adjusted p is at most alpha controls
// the chance of any false rejection among them at alpha, whatever their
// dependence. R: p.adjust(p, "holm").
func Holm(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, m)
	run := 0.0
	for k, i := range idx {
		run = math.Max(run, math.Min(1, float64(m-k)*p[i]))
		out[i] = run
	}
	return out
}

// normalQuantile is Φ⁻¹(p) for 0 < p < 1.
func normalQuantile(p float64) float64 {
	return -math.Sqrt2 * math.Erfcinv(2*p)
}

// MinOneSidedP is the smallest one-sided p-value a Mann-Whitney test of
// samples of n1 and n2 values can give: 1/C(n1+n2, n1), both samples
// fully separated the tested way.
func MinOneSidedP(n1, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	return math.Min(1, 1/binom(n1+n2, n1))
}

// TrialsFor is the fewest trials a side (equal on both) with which a
// one-sided Mann-Whitney test can reach p <= level: the smallest n with
// 1/C(2n, n) <= level.
func TrialsFor(level float64) int {
	n := 1
	for MinOneSidedP(n, n) > level && n < 1000 {
		n++
	}
	return n
}
