package gate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMannWhitneyKnownValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y []float64
		u, p float64
	}{
		// Fully separated 5 vs 5: 2/C(10,5) = 2/252.
		{"separated 5v5", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 0, 0.007937},
		{"separated reversed", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 25, 0.007937},
		// 3 vs 3 can never be significant at 0.05: 2/C(6,3) = 0.1.
		{"separated 3v3", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 0.1},
		// R's ?wilcox.test example (Hollander & Wolfe, permeability
		// constants): W = 35, one-sided exact p = 0.1272, two-sided twice that.
		{"R permeability", []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46},
			[]float64{1.15, 0.88, 0.90, 0.74, 1.21}, 35, 0.2544},
		{"identical", []float64{1, 1, 1}, []float64{1, 1, 1}, 4.5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mw, err := MannWhitneyU(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			if !mw.Exact {
				t.Errorf("want the exact distribution for %d+%d values", len(tc.x), len(tc.y))
			}
			if mw.U != tc.u {
				t.Errorf("U = %v, want %v", mw.U, tc.u)
			}
			if math.Abs(mw.P-tc.p) > 5e-5 {
				t.Errorf("p = %.6f, want %.6f", mw.P, tc.p)
			}
		})
	}
}

// R's ?wilcox.test depression example has ties, so R uses the normal
// approximation with tie and continuity correction: W = 58, two-sided
// p = 0.1329 (by hand: σ² = 81/12·(19 − 12/306), z = 17/σ = 1.503).
func TestNormalApproximationMatchesR(t *testing.T) {
	x := []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y := []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	r1x2, sizes, _ := rankTies(x, y)
	u := float64(r1x2)/2 - 9*10/2
	if u != 58 {
		t.Fatalf("U = %v, want 58", u)
	}
	if p := normalP(9, 9, u, sizes); math.Abs(p-0.1329) > 1e-4 {
		t.Errorf("normal p = %.5f, want 0.1329", p)
	}
}

// bruteP enumerates every split of the pooled values into samples of
// len(x) and len(y) and counts pairs directly (no ranks), an independent
// check of exactP including ties.
func bruteP(x, y []float64) float64 {
	pool := append(append([]float64(nil), x...), y...)
	n, n1 := len(pool), len(x)
	uOf := func(in []bool) float64 {
		u := 0.0
		for i := range pool {
			for j := range pool {
				if in[i] && !in[j] {
					switch {
					case pool[i] > pool[j]:
						u++
					case pool[i] == pool[j]:
						u += 0.5
					}
				}
			}
		}
		return u
	}
	obsIn := make([]bool, n)
	for i := range n1 {
		obsIn[i] = true
	}
	obs := uOf(obsIn)
	var all, low, high float64
	for mask := 0; mask < 1<<n; mask++ {
		in := make([]bool, n)
		k := 0
		for i := range n {
			if mask&(1<<i) != 0 {
				in[i] = true
				k++
			}
		}
		if k != n1 {
			continue
		}
		u := uOf(in)
		all++
		if u <= obs {
			low++
		}
		if u >= obs {
			high++
		}
	}
	return math.Min(1, 2*math.Min(low, high)/all)
}

func TestExactMatchesEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 40 {
		n1, n2 := 1+rng.IntN(7), 1+rng.IntN(7)
		x, y := make([]float64, n1), make([]float64, n2)
		// Few distinct values so that ties are common.
		for i := range x {
			x[i] = float64(rng.IntN(6))
		}
		for i := range y {
			y[i] = float64(rng.IntN(6) + rng.IntN(2))
		}
		mw, err := MannWhitneyU(x, y)
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteP(x, y); math.Abs(mw.P-want) > 1e-12 {
			t.Errorf("trial %d: x=%v y=%v: p = %.10f, enumeration %.10f", trial, x, y, mw.P, want)
		}
	}
}

// At the exact limit the normal approximation must agree closely with the
// exact distribution; this checks the large-sample branch and the limit.
func TestNormalApproximationNearExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 10 {
		x, y := make([]float64, exactLimit), make([]float64, exactLimit)
		for i := range x {
			x[i] = math.Round(rng.NormFloat64() * 4) // ties
			y[i] = math.Round(rng.NormFloat64()*4 + float64(trial)/3)
		}
		mw, err := MannWhitneyU(x, y)
		if err != nil || !mw.Exact {
			t.Fatalf("exact test at %d values: %v exact=%v", exactLimit, err, mw.Exact)
		}
		_, sizes, _ := rankTies(x, y)
		if np := normalP(exactLimit, exactLimit, mw.U, sizes); math.Abs(np-mw.P) > 0.01 {
			t.Errorf("trial %d: normal p %.4f vs exact %.4f", trial, np, mw.P)
		}
	}
	big := make([]float64, exactLimit+1)
	for i := range big {
		big[i] = float64(i)
	}
	if mw, _ := MannWhitneyU(big, big); mw.Exact || mw.P != 1 {
		t.Errorf("%d values each: exact=%v p=%v, want normal approximation with p 1", len(big), mw.Exact, mw.P)
	}
}

func TestMinPValue(t *testing.T) {
	for _, tc := range []struct {
		n1, n2 int
		want   float64
	}{{5, 5, 2.0 / 252}, {3, 3, 0.1}, {4, 4, 2.0 / 70}, {1, 1, 1}, {0, 5, 1}} {
		if got := MinPValue(tc.n1, tc.n2); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("MinPValue(%d,%d) = %v, want %v", tc.n1, tc.n2, got, tc.want)
		}
	}
}

func TestMannWhitneyRejectsBadSamples(t *testing.T) {
	if _, err := MannWhitneyU(nil, []float64{1}); err == nil {
		t.Error("empty sample: want error")
	}
	if _, err := MannWhitneyU([]float64{math.NaN()}, []float64{1}); err == nil {
		t.Error("NaN: want error")
	}
}

// Exact tests with ties at 5, 10 and 25 (the exact limit) values a side.
func BenchmarkMannWhitneyExact(b *testing.B) {
	for _, n := range []int{5, 10, exactLimit} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(5, 6))
			x, y := make([]float64, n), make([]float64, n)
			for i := range x {
				x[i], y[i] = math.Round(rng.NormFloat64()*4), math.Round(rng.NormFloat64()*4+1)
			}
			for b.Loop() {
				if _, err := MannWhitneyU(x, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
