package gate

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// R: dwilcox(0:20, 6, 4) * choose(10, 4), and pwilcox(3:5, 8, 8).
func TestUCountsMatchR(t *testing.T) {
	want := []float64{1, 1, 2, 3, 5, 6, 9, 10, 13, 14, 16, 16, 18, 16, 16, 14, 13, 10, 9, 6, 5}
	got := uCounts(6, 4)
	if len(got) != 25 {
		t.Fatalf("%d values, want 6·4+1", len(got))
	}
	for u, w := range want {
		if got[u] != w {
			t.Errorf("U=%d: %v ways, R says %v", u, got[u], w)
		}
	}
	// U is symmetric, and the arrangements add up to C(n1+n2, n1).
	for _, n := range [][2]int{{1, 1}, {3, 7}, {8, 8}, {25, 25}, {25, 3}} {
		c := uCounts(n[0], n[1])
		sum := 0.0
		for u := range c {
			sum += c[u]
			if c[u] != c[len(c)-1-u] || c[u] < 0 {
				t.Fatalf("%v: counts not symmetric and non-negative at U=%d", n, u)
			}
		}
		if sum != binom(n[0]+n[1], n[0]) {
			t.Errorf("%v: %v arrangements, want C = %v", n, sum, binom(n[0]+n[1], n[0]))
		}
	}
	c := uCounts(8, 8)
	cum := 0.0
	for u, w := range map[int]float64{3: 0.000543900543900544, 4: 0.000932400932400932, 5: 0.00147630147630148} {
		cum = 0
		for _, v := range c[:u+1] {
			cum += v
		}
		if p := cum / binom(16, 8); !near(p, w, 1e-15) {
			t.Errorf("P(U <= %d) for 8+8 = %v, R pwilcox says %v", u, p, w)
		}
	}
}

func TestRatioCIMatchesR(t *testing.T) {
	for _, tc := range []struct {
		name                string
		base, cand          []float64
		conf                float64
		est, low, high, lvl float64
	}{
		// R: exp(wilcox.test(log(c8), log(b), conf.int = TRUE, exact = TRUE)[c("estimate", "conf.int")])
		// achieved level: 1 - 2*pwilcox(qwilcox(0.025, 8, 8) - 1, 8, 8)
		{"9% drop 8v8",
			[]float64{498.2, 501.3, 495.1, 499.9, 502.4, 497.7, 500.8, 496.5},
			[]float64{455.1, 452.8, 458.3, 451.0, 456.6, 453.9, 457.2, 450.4},
			0.95, 0.910879460085272, 0.904962829013462, 0.916783356671334, 0},
		// R: exp(wilcox.test(log(c2), log(b2), conf.int = TRUE, exact = TRUE, conf.level = 0.9)[...]);
		// level 1 - 2*pwilcox(qwilcox(0.05, 7, 5) - 1, 7, 5) = 0.926767676767677
		{"unequal sizes, 90%",
			[]float64{1210, 1185, 1302, 1254, 1199},
			[]float64{1288, 1351, 1240, 1333, 1297, 1412, 1275},
			0.9, 1.07190082644628, 1.02380952380952, 1.12489451476793, 0.926767676767677},
	} {
		t.Run(tc.name, func(t *testing.T) {
			est, ci, err := RatioCI(tc.base, tc.cand, tc.conf)
			if err != nil || ci == nil {
				t.Fatalf("ci %v, err %v", ci, err)
			}
			if !near(est, tc.est, 1e-12) || !near(ci.Low, tc.low, 1e-12) || !near(ci.High, tc.high, 1e-12) {
				t.Errorf("estimate %.15g [%.15g, %.15g], R says %.15g [%.15g, %.15g]", est, ci.Low, ci.High, tc.est, tc.low, tc.high)
			}
			if tc.lvl != 0 && !near(ci.Level, tc.lvl, 1e-12) {
				t.Errorf("level %.15g, want %.15g", ci.Level, tc.lvl)
			}
			if ci.Level < tc.conf {
				t.Errorf("level %v below the requested %v", ci.Level, tc.conf)
			}
		})
	}
}

// Beyond 25 values a side the critical order statistic comes from the
// normal approximation. R (the formula; R's own large-sample interval
// inverts a tie-corrected statistic numerically instead):
//
//	set.seed(1); bb <- round(exp(rnorm(30, 6, 0.03)), 2); cc <- round(exp(rnorm(30, 6.05, 0.03)), 2)
//	d <- sort(outer(log(cc), log(bb), "-"))
//	qu <- ceiling(30*30/2 - 0.5 - qnorm(0.975)*sqrt(30*30*61/12))   # 317
//	exp(c(median(d), d[c(qu, 900 - qu + 1)]))
func TestRatioCINormalApproximation(t *testing.T) {
	bb := []float64{395.92, 405.66, 393.44, 423.21, 407.44, 393.62, 409.37, 412.46, 410.46, 399.75, 422.15, 408.17, 395.98, 377.5, 417.28,
		402.89, 403.23, 415.02, 413.49, 410.68, 414.71, 413.01, 404.33, 380.06, 411, 402.75, 401.55, 386.02, 397.68, 408.52}
	cc := []float64{441.76, 422.81, 429.07, 423.43, 406.95, 418.87, 419.13, 423.36, 438.34, 433.94, 422.02, 420.9, 433.07, 431.26, 415.44,
		415.21, 428.78, 434, 422.69, 435.47, 429.21, 416.4, 428.48, 409.98, 442.74, 450.07, 419.47, 411.03, 431.42, 422.4}
	est, ci, err := RatioCI(bb, cc, 0.95)
	if err != nil || ci == nil {
		t.Fatal(ci, err)
	}
	if !near(est, 1.04964293181710, 1e-12) || !near(ci.Low, 1.03596072515025, 1e-12) || !near(ci.High, 1.06478938915082, 1e-12) {
		t.Errorf("got %.15g [%.15g, %.15g]", est, ci.Low, ci.High)
	}
}

func TestRatioCIUnattainableAndBadValues(t *testing.T) {
	// 3 vs 3: P(U = 0) = 1/20 > 0.025, no 95% interval exists.
	est, ci, err := RatioCI([]float64{1, 2, 3}, []float64{2, 4, 6}, 0.95)
	if err != nil || ci != nil || !near(est, 2, 1e-12) {
		t.Errorf("3v3: est %v ci %+v err %v; want ratio 2 and no interval", est, ci, err)
	}
	for _, bad := range [][]float64{{1, 0}, {1, -2}, {1, math.Inf(1)}, {math.NaN()}, {}} {
		if _, _, err := RatioCI([]float64{1, 2}, bad, 0.95); err == nil {
			t.Errorf("%v: want error", bad)
		}
	}
}

// R: j <- qbinom(0.025, n, 0.5); sort(v)[c(j, n - j + 1)]; 1 - 2*pbinom(j - 1, n, 0.5)
func TestMedianCIMatchesR(t *testing.T) {
	v := []float64{8.1, 7.9, 8.4, 8.0, 8.8, 7.7, 8.2, 8.3, 9.5, 8.05}
	ci := MedianCI(v, 0.95)
	if ci == nil || ci.Low != 7.9 || ci.High != 8.8 || !near(ci.Level, 0.978515625, 1e-12) {
		t.Errorf("n=10: %+v, R says [7.9, 8.8] at 0.978515625", ci)
	}
	ci = MedianCI(v[:8], 0.95)
	if ci == nil || ci.Low != 7.7 || ci.High != 8.8 || !near(ci.Level, 0.9921875, 1e-12) {
		t.Errorf("n=8: %+v, R says [7.7, 8.8] at 0.9921875", ci)
	}
	// qbinom(0.025, 5, 0.5) is 0: five values cannot give 95%; six can.
	if ci := MedianCI(v[:5], 0.95); ci != nil {
		t.Errorf("n=5: %+v, want none", ci)
	}
	if ci := MedianCI(v[:6], 0.95); ci == nil {
		t.Error("n=6: want an interval")
	}
}

// R: p.adjust(c(0.01, 0.04, 0.03, 0.005, 0.20, 0.04), "holm")
func TestHolmMatchesR(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005, 0.20, 0.04})
	want := []float64{0.05, 0.12, 0.12, 0.03, 0.20, 0.12}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Errorf("adjusted %v, R says %v", got, want)
			break
		}
	}
	if len(Holm(nil)) != 0 {
		t.Error("empty input")
	}
}

// R: wilcox.test(x, y, alternative = "greater"/"less", exact = TRUE)$p.value
// (permeability data of ?wilcox.test), and with exact = FALSE, correct =
// TRUE for the depression data, which has ties.
func TestOneSidedPMatchesR(t *testing.T) {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	mw, err := MannWhitneyU(x, y)
	if err != nil || !near(mw.PHigh, 0.127206127206127, 1e-12) || !near(mw.PLow, 0.896769896769897, 1e-12) {
		t.Errorf("exact: greater %v less %v, R says 0.127206127206127 and 0.896769896769897 (%v)", mw.PHigh, mw.PLow, err)
	}
	x = []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	y = []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
	_, sizes, _ := rankTies(x, y)
	low, high := normalTails(9, 9, 58, sizes)
	if !near(high, 0.0664597290926594, 1e-12) || !near(low, 0.944204400289713, 1e-12) {
		t.Errorf("normal: greater %v less %v, R says 0.0664597290926594 and 0.944204400289713", high, low)
	}
}

func TestMinOneSidedPAndTrialsFor(t *testing.T) {
	if p := MinOneSidedP(8, 8); !near(p, 1.0/12870, 1e-18) {
		t.Errorf("8v8: %v", p)
	}
	// Holm's first step over 36 comparisons at 0.05 needs p <= 0.00139:
	// 1/C(12,6) = 0.00108 is the first to get there.
	if n := TrialsFor(0.05 / 36); n != 6 {
		t.Errorf("TrialsFor(0.05/36) = %d, want 6", n)
	}
	if n := TrialsFor(0.05); n != 3 { // 1/C(6,3) = 0.05
		t.Errorf("TrialsFor(0.05) = %d, want 3", n)
	}
}
