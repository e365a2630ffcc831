package cost

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// evalsOf makes evaluated points with one figure from a function of
// (instances, clients).
func evalsOf(figure string, pts []results.Point, f func(p results.Point) float64) []Evaluated {
	evs := make([]Evaluated, len(pts))
	for i, p := range pts {
		evs[i] = Evaluated{Point: p, Status: results.StatusOK, N: 1, Figures: map[string]float64{figure: f(p)}}
	}
	return evs
}

func grid2(instances, clients []int) []results.Point {
	var pts []results.Point
	for _, i := range instances {
		for _, c := range clients {
			pts = append(pts, results.Point{Instances: i, Clients: c})
		}
	}
	return pts
}

func ic(p results.Point) []float64 { return []float64{float64(p.Instances), float64(p.Clients)} }

// saturating is the typical throughput shape: linear in parallelism until
// the device saturates.
func saturating(p results.Point) float64 {
	return math.Min(800*float64(p.Instances*p.Clients), 20000)
}

func TestSurfacePredictsSaturatingThroughput(t *testing.T) {
	measured := grid2([]int{1, 2, 4, 8}, []int{1, 2, 4, 8, 16, 32})
	s, err := FitFigure(evalsOf("throughput", measured, saturating), []string{"instances", "clients"}, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	if s.Method() != "thin-plate spline" || s.N() != len(measured) {
		t.Errorf("method %q n %d", s.Method(), s.N())
	}
	// Measured points are reproduced.
	for _, p := range measured {
		v, in := s.Predict(ic(p))
		near(t, "at measured "+p.Key(), v, saturating(p), 1e-3)
		if !in {
			t.Errorf("measured point %s reported outside", p.Key())
		}
	}
	// Unmeasured interior points, including ones on both sides of the
	// saturation knee, within 15%.
	worst := 0.0
	for _, p := range grid2([]int{3, 6}, []int{3, 6, 12, 24}) {
		v, in := s.Predict(ic(p))
		if !in {
			t.Errorf("interior point %s reported outside", p.Key())
		}
		worst = math.Max(worst, math.Abs(v/saturating(p)-1))
		near(t, "interior "+p.Key(), v, saturating(p), 0.15)
	}
	t.Logf("worst interior error %.1f%%", worst*100)
}

func TestSurfaceFromSparseMeasurements(t *testing.T) {
	// Half the grid (a checkerboard), as an adaptive sweep would leave it:
	// the other half must still come out within 15%.
	all := grid2([]int{1, 2, 4, 8}, []int{1, 2, 4, 8, 16, 32})
	var measured, held []results.Point
	for k, p := range all {
		if (k/6+k%6)%2 == 0 {
			measured = append(measured, p)
		} else {
			held = append(held, p)
		}
	}
	s, err := FitFigure(evalsOf("throughput", measured, saturating), []string{"instances", "clients"}, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for _, p := range held {
		v, in := s.Predict(ic(p))
		if !in {
			t.Errorf("held-out %s reported outside", p.Key())
		}
		worst = math.Max(worst, math.Abs(v/saturating(p)-1))
		near(t, "held-out "+p.Key(), v, saturating(p), 0.15)
	}
	t.Logf("worst held-out error %.1f%%", worst*100)
}

func TestSurfaceLOO(t *testing.T) {
	pts := grid2([]int{1, 2, 4, 8}, []int{1, 2, 4, 8, 16})
	dims := []string{"instances", "clients"}
	smooth := func(p results.Point) float64 {
		return 500 * math.Pow(float64(p.Instances), 0.7) * math.Pow(float64(p.Clients), 0.4)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	noisy := func(p results.Point) float64 { return smooth(p) * math.Exp(0.3*rng.NormFloat64()) }

	ss, err := FitFigure(evalsOf("throughput", pts, smooth), dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	sn, err := FitFigure(evalsOf("throughput", pts, noisy), dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	sat, err := FitFigure(evalsOf("throughput", pts, saturating), dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LOO: power law %.3g, saturating %.3g, 30%% noise %.3g", ss.LOO(), sat.LOO(), sn.LOO())
	if !(ss.LOO() < 0.01) {
		t.Errorf("LOO on a smooth power law = %v, want < 1%%", ss.LOO())
	}
	if !(sat.LOO() < 0.15) {
		t.Errorf("LOO on a saturating surface = %v, want < 15%%", sat.LOO())
	}
	if !(sn.LOO() > 0.2 && sn.LOO() > 10*ss.LOO()) {
		t.Errorf("LOO on noise = %v, want > 20%% and far above the smooth %v", sn.LOO(), ss.LOO())
	}
	// Cross-check Rippa's shortcut against honest refits.
	evs := evalsOf("throughput", pts, saturating)
	var se float64
	for i := range evs {
		rest := append(append([]Evaluated(nil), evs[:i]...), evs[i+1:]...)
		o, err := FitFigure(rest, dims, "throughput")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := o.Predict(ic(evs[i].Point))
		r := v/evs[i].Figures["throughput"] - 1
		se += r * r
	}
	near(t, "LOO by refits vs Rippa", sat.LOO(), math.Sqrt(se/float64(len(evs))), 0.05)
}

func TestSurfaceFlagsExtrapolation(t *testing.T) {
	pts := grid2([]int{1, 2, 4, 8}, []int{1, 4, 16})
	s, err := FitFigure(evalsOf("throughput", pts, saturating), []string{"instances", "clients"}, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		coords []float64
		in     bool
		why    string
	}{
		{[]float64{3, 2}, true, ""},
		{[]float64{8, 16}, true, ""},
		{[]float64{16, 4}, false, "instances=16 is outside the measured range of instances (1–8)"},
		{[]float64{2, 0.5}, false, "clients=0.5 is outside the measured range of clients (1–16)"},
		{[]float64{0, 4}, false, "instances=0 is not positive"},
	} {
		v, in := s.Predict(c.coords)
		if in != c.in {
			t.Errorf("Predict(%v) inHull = %v, want %v", c.coords, in, c.in)
		}
		if why := s.outside(c.coords); !strings.Contains(why, c.why) || (c.why == "") != (why == "") {
			t.Errorf("outside(%v) = %q, want %q", c.coords, why, c.why)
		}
		if c.coords[0] > 0 && (math.IsNaN(v) || v <= 0) {
			t.Errorf("Predict(%v) = %v, want a positive extrapolation", c.coords, v)
		}
	}
}

func TestSurfaceDegenerateData(t *testing.T) {
	dims := []string{"instances", "clients"}
	lin := func(p results.Point) float64 { return 100 * float64(p.Instances) }

	if _, err := FitFigure(nil, dims, "throughput"); err == nil || !strings.Contains(err.Error(), "no measured point has it") {
		t.Errorf("0 points: err = %v", err)
	}
	if _, err := FitFigure(nil, []string{"cores"}, "throughput"); err == nil || !strings.Contains(err.Error(), `unknown dimension "cores"`) {
		t.Errorf("bad dimension: err = %v", err)
	}

	one := evalsOf("throughput", []results.Point{{Instances: 2, Clients: 4}}, lin)
	s, err := FitFigure(one, dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	if v, in := s.Predict([]float64{2, 4}); math.Abs(v-200) > 1e-9 || !in {
		t.Errorf("1 point at itself: %v %v", v, in)
	}
	if v, in := s.Predict([]float64{4, 4}); math.Abs(v-200) > 1e-9 || in {
		t.Errorf("1 point elsewhere: %v %v, want the constant, flagged", v, in)
	}
	if !math.IsNaN(s.LOO()) {
		t.Errorf("LOO of 1 point = %v, want NaN", s.LOO())
	}

	two := evalsOf("throughput", []results.Point{{Instances: 1, Clients: 4}, {Instances: 4, Clients: 4}}, lin)
	s, err = FitFigure(two, dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	if v, in := s.Predict([]float64{2, 4}); !in || math.Abs(v-200) > 1e-6 {
		t.Errorf("2 points, between them: %v %v, want 200 (a power law is linear in log space)", v, in)
	}
	if _, in := s.Predict([]float64{2, 8}); in {
		t.Error("2 points: a clients value never measured is reported inside")
	}

	// Collinear points on the diagonal of the box: in range per
	// dimension, but off their line is extrapolation.
	diag := evalsOf("throughput", []results.Point{{Instances: 1, Clients: 1}, {Instances: 2, Clients: 2}, {Instances: 4, Clients: 4}, {Instances: 8, Clients: 8}}, saturating)
	s, err = FitFigure(diag, dims, "throughput")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Method(), "1 of 2 dimensions") {
		t.Errorf("collinear method = %q", s.Method())
	}
	if v, in := s.Predict([]float64{2, 2}); !in || math.Abs(v-3200) > 1 {
		t.Errorf("collinear, on a point: %v %v", v, in)
	}
	if _, in := s.Predict([]float64{1, 8}); in {
		t.Errorf("collinear, off the line: reported inside (%s)", s.outside([]float64{1, 8}))
	}

	// Repeated coordinates are averaged, not a singular system.
	dup := append(evalsOf("throughput", grid2([]int{1, 2, 4}, []int{1, 2}), lin), evalsOf("throughput", []results.Point{{Instances: 2, Clients: 2}}, func(results.Point) float64 { return 200 })...)
	if s, err = FitFigure(dup, dims, "throughput"); err != nil || s.N() != 6 {
		t.Fatalf("duplicates: %v, n=%d", err, s.N())
	}

	// A figure with zeros is fitted in linear space; a dimension with a
	// zero coordinate is fitted linearly.
	errs := evalsOf("errors", grid2([]int{0, 1, 2}, []int{1, 2}), func(p results.Point) float64 { return float64(p.Instances) })
	s, err = FitFigure(errs, dims, "errors")
	if err != nil {
		t.Fatal(err)
	}
	if v, in := s.Predict([]float64{0.5, 1.5}); !in || math.Abs(v-0.5) > 1e-3 {
		t.Errorf("linear-space fit: %v %v, want 0.5", v, in)
	}
	if l := s.LOO(); math.IsNaN(l) || l > 0.01 {
		t.Errorf("LOO of an exactly linear figure = %v", l)
	}
}

// BenchmarkFitSurface fits throughput over a 12×12 grid (144 points,
// leave-one-out included), the size of a large two-dimensional sweep.
func BenchmarkFitSurface(b *testing.B) {
	var is, cs []int
	for k := 0; k < 12; k++ {
		is, cs = append(is, 1+k), append(cs, 1<<k)
	}
	evs := evalsOf("throughput", grid2(is, cs), saturating)
	dims := []string{"instances", "clients"}
	for b.Loop() {
		if _, err := FitFigure(evs, dims, "throughput"); err != nil {
			b.Fatal(err)
		}
	}
}
