package gate

import (
	"fmt"
	"math"
	"sort"
)

// exactLimit is the largest sample size (each side) for which the exact
// permutation distribution of U is used; above it the normal
// approximation is accurate and the exact table would grow needlessly.
// benchstat uses 50 without ties and 25 with ties; the dynamic programme
// below handles ties exactly, so one limit serves both.
const exactLimit = 25

// MannWhitney is the result of a two-sided Mann-Whitney U test.
type MannWhitney struct {
	// U is the statistic of the first sample: the number of pairs (x, y)
	// with x > y, ties counting one half.
	U float64
	// P is the two-sided p-value: the probability, if both samples came
	// from one distribution, of a U at least as far from n1·n2/2.
	P float64
	// PLow and PHigh are the one-sided p-values: the probability under
	// the same hypothesis of a U at most (PLow: the first sample tends to
	// be smaller) or at least (PHigh: larger) the observed one.
	PLow, PHigh float64
	// Exact says P comes from the exact permutation distribution (with
	// ties handled exactly) rather than the normal approximation.
	Exact bool
}

// MannWhitneyU runs a two-sided Mann-Whitney U (Wilcoxon rank-sum) test
// of x against y. It uses the exact permutation distribution of the rank
// sum, conditional on the observed ties, when both samples have at most
// 25 values, and otherwise the normal approximation with tie and
// continuity correction, as benchstat does. Values must not be NaN.
func MannWhitneyU(x, y []float64) (MannWhitney, error) {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return MannWhitney{}, fmt.Errorf("mann-whitney: empty sample (%d and %d values)", n1, n2)
	}
	for _, v := range x {
		if math.IsNaN(v) {
			return MannWhitney{}, fmt.Errorf("mann-whitney: NaN in first sample")
		}
	}
	for _, v := range y {
		if math.IsNaN(v) {
			return MannWhitney{}, fmt.Errorf("mann-whitney: NaN in second sample")
		}
	}
	r1x2, sizes, rank2 := rankTies(x, y)
	u := float64(r1x2)/2 - float64(n1*(n1+1))/2

	if n1 <= exactLimit && n2 <= exactLimit {
		low, high := exactTails(n1, sizes, rank2, r1x2)
		return MannWhitney{U: u, P: math.Min(1, 2*math.Min(low, high)), PLow: low, PHigh: high, Exact: true}, nil
	}
	low, high := normalTails(n1, n2, u, sizes)
	return MannWhitney{U: u, P: normalP(n1, n2, u, sizes), PLow: low, PHigh: high}, nil
}

// rankTies ranks x and y together. It returns the doubled rank sum of x
// and, per group of tied values in ascending order, its size and doubled
// mid-rank (start+end of its 1-based positions), which keeps every rank
// sum an integer.
func rankTies(x, y []float64) (r1x2 int, sizes, rank2 []int) {
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	n := len(all)
	for i := 0; i < n; {
		j := i
		for j < n && all[j].v == all[i].v {
			j++
		}
		m2 := (i + 1) + j
		for k := i; k < j; k++ {
			if all[k].first {
				r1x2 += m2
			}
		}
		sizes = append(sizes, j-i)
		rank2 = append(rank2, m2)
		i = j
	}
	return r1x2, sizes, rank2
}

// normalVariance is the variance of U under the null hypothesis,
// corrected for ties.
func normalVariance(n1, n2 int, sizes []int) float64 {
	tie := 0.0
	for _, t := range sizes {
		ft := float64(t)
		tie += ft*ft*ft - ft
	}
	fn1, fn2 := float64(n1), float64(n2)
	fn := fn1 + fn2
	return fn1 * fn2 / 12 * ((fn + 1) - tie/(fn*(fn-1)))
}

// normalTails are the one-sided p-values P(U <= u) and P(U >= u) from the
// normal approximation with continuity correction, as R's
// wilcox.test(alternative = "less" / "greater", exact = FALSE) computes
// them.
func normalTails(n1, n2 int, u float64, sizes []int) (low, high float64) {
	variance := normalVariance(n1, n2, sizes)
	if variance <= 0 {
		return 1, 1 // every value equal
	}
	sd := math.Sqrt(variance)
	mean := float64(n1) * float64(n2) / 2
	low = 0.5 * math.Erfc(-(u-mean+0.5)/sd/math.Sqrt2) // Φ((u−μ+½)/σ)
	high = 0.5 * math.Erfc((u-mean-0.5)/sd/math.Sqrt2) // 1−Φ((u−μ−½)/σ)
	return math.Min(1, low), math.Min(1, high)
}

// normalP is the two-sided p-value of U from the normal approximation
// with tie-corrected variance and continuity correction.
func normalP(n1, n2 int, u float64, sizes []int) float64 {
	variance := normalVariance(n1, n2, sizes)
	if variance <= 0 {
		return 1 // every value equal
	}
	fn1, fn2 := float64(n1), float64(n2)
	// Continuity correction towards the mean, never past it.
	d := math.Max(math.Abs(u-fn1*fn2/2)-0.5, 0)
	z := d / math.Sqrt(variance)
	return math.Min(1, math.Erfc(z/math.Sqrt2)) // = 2·(1-Φ(|z|))
}

// exactTails are the one-sided p-values P(S <= obs) and P(S >= obs) of
// the doubled rank sum obs of a sample of n1 among tie groups of the given
// sizes and doubled mid-ranks, under the permutation distribution
// (conditional on the ties). The two-sided p-value is twice the smaller,
// capped at 1. Counts stay below C(50,25) < 2^53, so float64 holds them
// exactly.
func exactTails(n1 int, sizes, rank2 []int, obs int) (low, high float64) {
	// The largest doubled rank sum takes the n1 highest-ranked values.
	maxSum, left := 0, n1
	for i := len(sizes) - 1; i >= 0 && left > 0; i-- {
		take := min(sizes[i], left)
		maxSum += take * rank2[i]
		left -= take
	}
	// ways[k][s]: arrangements putting k of the sample among the groups
	// seen so far with doubled rank sum s.
	ways := make([][]float64, n1+1)
	for k := range ways {
		ways[k] = make([]float64, maxSum+1)
	}
	ways[0][0] = 1
	seen, reach := 0, 0 // values seen; largest reachable doubled sum
	for g, t := range sizes {
		choose := make([]float64, t+1)
		for j := range choose {
			choose[j] = binom(t, j)
		}
		reach = min(maxSum, reach+min(t, n1)*rank2[g])
		for k := min(n1, seen+t); k >= 0; k-- {
			row := ways[k]
			for s := reach; s >= 0; s-- {
				total := row[s]
				for j := 1; j <= t && j <= k; j++ {
					ps := s - j*rank2[g]
					if ps < 0 {
						break
					}
					total += ways[k-j][ps] * choose[j]
				}
				row[s] = total
			}
		}
		seen += t
	}
	var all float64
	for s, c := range ways[n1] {
		all += c
		if s <= obs {
			low += c
		}
		if s >= obs {
			high += c
		}
	}
	return low / all, high / all
}

// binom is C(n, k) as a float64 (exact for the sizes used here).
func binom(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return math.Round(r)
}

// MinPValue is the smallest two-sided p-value a Mann-Whitney test of
// samples of n1 and n2 values can give: both samples fully separated,
// 2/C(n1+n2, n1). When it is not below alpha no difference can ever be
// significant, so comparing is pointless.
func MinPValue(n1, n2 int) float64 {
	if n1 <= 0 || n2 <= 0 {
		return 1
	}
	return math.Min(1, 2/binom(n1+n2, n1))
}

// median of a non-empty sample (mean of the two middle values for even
// sizes); it does not modify v.
func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
