package cost

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// model is a synthetic deployment: each instance serves 1000 inferences/s
// until a GPU saturates at 3000/s (3 instances); scaling over GPUs has
// efficiency gpus^eff; p99 grows 3 ms per instance.
type model struct{ eff float64 }

func (m model) throughput(p results.Point) float64 {
	return math.Min(1000*float64(p.Instances), 3000) * math.Pow(float64(p.GPUs), m.eff)
}

func (m model) p99(p results.Point) float64 { return 3 * float64(p.Instances) }

func (m model) records(pts []results.Point) []results.Record {
	var recs []results.Record
	for _, p := range pts {
		recs = append(recs, rec(p, m.throughput(p), m.p99(p)))
	}
	return recs
}

func gridGI(gpus, instances []int) []results.Point {
	var pts []results.Point
	for _, g := range gpus {
		for _, i := range instances {
			pts = append(pts, results.Point{GPUs: g, Instances: i})
		}
	}
	return pts
}

// bruteForce is the known optimum: the feasible point of pts with the
// lowest cost under the model itself.
func bruteForce(t *testing.T, m model, pts []results.Point, spec Spec) results.Point {
	t.Helper()
	evs := mustEvaluate(t, m.records(pts), spec)
	best := -1
	for i, ev := range evs {
		if ev.Feasible && (best < 0 || ev.Cost < evs[best].Cost) {
			best = i
		}
	}
	if best < 0 {
		t.Fatal("no feasible point in the synthetic grid")
	}
	return evs[best].Point
}

func TestChooseOptimumAtTheEdge(t *testing.T) {
	// Perfect GPU scaling and a node price to amortise: more GPUs per node
	// is always cheaper, so the optimum is at the largest GPU count; the
	// p99 limit rules out 8 instances, so it is inside in instances.
	m := model{eff: 1}
	pts := gridGI([]int{1, 2, 4, 8}, []int{1, 2, 4, 8})
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 12ms", "throughput >= 10000/s"}}
	evs := mustEvaluate(t, m.records(pts), spec)
	op, err := Choose(evs, pts, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := results.Point{GPUs: 8, Instances: 4}
	if op.Best == nil || op.Best.Point != want || want != bruteForce(t, m, pts, spec) {
		t.Fatalf("Best = %+v, want %s", op.Best, want.Key())
	}
	if !strings.Contains(op.Reason, "lowest usd_per_million among 3 feasible of 16") {
		t.Errorf("Reason = %q", op.Reason)
	}
	if op.Predicted != nil {
		t.Errorf("every grid point was measured, yet Predicted = %+v", op.Predicted)
	}
	if !reflect.DeepEqual(op.Dims, []string{"gpus", "instances"}) {
		t.Errorf("Dims = %v", op.Dims)
	}
	for _, f := range []string{"throughput", "p99"} {
		if l, ok := op.Fit[f]; !ok || math.IsNaN(l) {
			t.Errorf("Fit[%s] = %v, %v", f, l, ok)
		}
	}
	// Infeasible points are in evals, marked, and not chosen.
	n := 0
	for _, ev := range evs {
		if !ev.Feasible {
			n++
		}
	}
	if n != 13 {
		t.Errorf("%d infeasible points, want 13", n)
	}
}

func TestChooseInteriorOptimumWithInfeasibleRegion(t *testing.T) {
	// Sub-linear GPU scaling (gpus^0.8) against a 0.5 USD/h node: cost per
	// inference ∝ (gpus + 0.5) / gpus^0.8 is lowest at 2 GPUs.
	m := model{eff: 0.8}
	pts := gridGI([]int{1, 2, 4, 8}, []int{1, 2, 4, 8})
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 12ms", "throughput >= 4000/s"}}
	evs := mustEvaluate(t, m.records(pts), spec)
	op, err := Choose(evs, pts, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := results.Point{GPUs: 2, Instances: 4}
	if op.Best == nil || op.Best.Point != want || want != bruteForce(t, m, pts, spec) {
		t.Fatalf("Best = %+v, want %s", op.Best, want.Key())
	}

	// Tighter latency than any point meets: no Best, and the reason names
	// the cheapest point with the fewest violations and what it violates.
	spec.Constraints = []string{"p99 <= 2ms"}
	evs = mustEvaluate(t, m.records(pts), spec)
	op, err = Choose(evs, pts, spec)
	if err != nil {
		t.Fatal(err)
	}
	if op.Best != nil || !strings.Contains(op.Reason, "no measured point meets the constraints; of those with the fewest violations, the cheapest is gpus=2,instances=4,") || !strings.Contains(op.Reason, "p99 12ms > 2ms") {
		t.Errorf("Best = %+v, Reason = %q", op.Best, op.Reason)
	}
	if op.Predicted != nil {
		t.Errorf("no unmeasured grid point, yet Predicted = %+v", op.Predicted)
	}
}

func TestChoosePredictsAnUnmeasuredOptimum(t *testing.T) {
	// Instances saturate at 3, p99 rules out 4 or more: the optimum is
	// 3 instances, which the sweep did not measure.
	m := model{eff: 1}
	measured := gridGI([]int{1, 2, 4}, []int{1, 2, 4, 8})
	grid := gridGI([]int{1, 2, 3, 4}, []int{1, 2, 3, 4, 5, 6, 7, 8})
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 10ms", "throughput >= 5000/s"}}
	evs := mustEvaluate(t, m.records(measured), spec)
	op, err := Choose(evs, grid, spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := (results.Point{GPUs: 4, Instances: 2}); op.Best == nil || op.Best.Point != want {
		t.Fatalf("Best = %+v, want %s", op.Best, want.Key())
	}
	want := results.Point{GPUs: 4, Instances: 3}
	if op.Predicted == nil || op.Predicted.Point != want || want != bruteForce(t, m, grid, spec) {
		t.Fatalf("Predicted = %+v, want %s", op.Predicted, want.Key())
	}
	p := op.Predicted
	if p.Extrapolated || !p.Feasible {
		t.Errorf("Predicted %+v should be inside and feasible", p)
	}
	near(t, "predicted throughput", p.Figures["throughput"], m.throughput(want), 0.15)
	near(t, "predicted p99", p.Figures["p99"], m.p99(want), 0.05)
	if !strings.HasPrefix(op.Suggestion, "measure gpus=4,instances=3 to confirm: predicted usd_per_million $") || !strings.Contains(op.Suggestion, "best measured $") {
		t.Errorf("Suggestion = %q", op.Suggestion)
	}
	if p.Cost >= op.Best.Cost {
		t.Errorf("predicted cost %v should beat the best measured %v", p.Cost, op.Best.Cost)
	}
}

func TestCostSurfaceAt(t *testing.T) {
	m := model{eff: 1}
	measured := gridGI([]int{1, 2, 4}, []int{1, 2, 4})
	spec := Spec{Prices: examplePrices(), Constraints: []string{"p99 <= 10ms"}}
	evs := mustEvaluate(t, m.records(measured), spec)
	cs, err := NewSurface(evs, nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	// At a measured point the surface gives back the measurement and
	// Evaluate's cost.
	pp := cs.At(results.Point{GPUs: 2, Instances: 2})
	near(t, "throughput at a measured point", pp.Figures["throughput"], 4000, 1e-4)
	near(t, "cost at a measured point", pp.Cost, evs[4].Cost, 1e-4)
	near(t, "usd_per_hour", pp.Figures["usd_per_hour"], 2.5, 1e-12)
	if pp.Extrapolated || !pp.Feasible {
		t.Errorf("measured point: %+v", pp)
	}
	// Beyond the measured GPUs: extrapolated, and expense uses the point's size.
	pp = cs.At(results.Point{GPUs: 8, Instances: 2})
	if !pp.Extrapolated || !strings.Contains(pp.Why, "gpus=8 is outside the measured range of gpus (1–4)") {
		t.Errorf("Extrapolated=%v Why=%q", pp.Extrapolated, pp.Why)
	}
	near(t, "usd_per_hour at 8 GPUs", pp.Figures["usd_per_hour"], 8.5, 1e-12)
	// Infeasible by prediction.
	pp = cs.At(results.Point{GPUs: 2, Instances: 4})
	if pp.Feasible || len(pp.Violations) != 1 || !strings.HasPrefix(pp.Violations[0], "p99 12ms > 10ms") {
		t.Errorf("Feasible=%v Violations=%q", pp.Feasible, pp.Violations)
	}
	// A dimension the surface does not span, at a value never measured.
	pp = cs.At(results.Point{GPUs: 2, Instances: 2, Servers: 2})
	if !pp.Extrapolated || !strings.Contains(pp.Why, "servers=2 was not measured (measured: 0)") {
		t.Errorf("Why = %q", pp.Why)
	}
	if _, err := NewSurface([]Evaluated{{Status: results.StatusFailed}}, nil, spec); err == nil {
		t.Error("cost surface from failed points only: no error")
	}
}

func TestPareto(t *testing.T) {
	mk := func(name int, p99, usd float64) Evaluated {
		return Evaluated{Point: results.Point{Instances: name}, Status: results.StatusOK,
			Figures: map[string]float64{"p99": p99, "usd_per_hour": usd, "throughput": 1000 / p99}}
	}
	evs := []Evaluated{
		mk(1, 10, 5), // frontier
		mk(2, 20, 2), // frontier
		mk(3, 15, 6), // dominated by 1
		mk(4, 30, 1), // frontier
		mk(5, 20, 3), // dominated by 2
		mk(6, 10, 5), // equal to 1: kept
		mk(7, 40, 1), // dominated by 4
		{Point: results.Point{Instances: 8}, Status: results.StatusFailed},
		{Point: results.Point{Instances: 9}, Status: results.StatusOK, Figures: map[string]float64{"p99": 1}}, // no usd_per_hour
	}
	names := func(evs []Evaluated) []int {
		var out []int
		for _, ev := range evs {
			out = append(out, ev.Point.Instances)
		}
		return out
	}
	if got := names(Pareto(evs, "p99", "usd_per_hour")); !reflect.DeepEqual(got, []int{1, 6, 2, 4}) {
		t.Errorf("Pareto(p99, usd_per_hour) = %v, want [1 6 2 4]", got)
	}
	// Throughput is maximised: sorted from the highest.
	if got := names(Pareto(evs, "throughput", "usd_per_hour")); !reflect.DeepEqual(got, []int{1, 6, 2, 4}) {
		t.Errorf("Pareto(throughput, usd_per_hour) = %v, want [1 6 2 4]", got)
	}
}

func TestChooseFrontierMeetsDemand(t *testing.T) {
	m := model{eff: 1}
	pts := gridGI([]int{1, 2, 4}, []int{1, 2, 4})
	spec := Spec{Prices: examplePrices(), Constraints: []string{"throughput >= 4000/s", "p99 <= 1ms"}}
	evs := mustEvaluate(t, m.records(pts), spec)
	op, err := Choose(evs, nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(op.Frontier) == 0 {
		t.Fatal("empty frontier")
	}
	// The latency constraint does not filter the frontier; the throughput one does.
	for _, ev := range op.Frontier {
		if ev.Figures["throughput"] < 4000 {
			t.Errorf("frontier point %s below the throughput demand", ev.Point.Key())
		}
	}
	// Cheapest point meeting demand (2 GPUs, 2+ instances: 2.5 USD/h) and
	// the fastest (1 instance, 4 GPUs: 3 ms) are both on it.
	first, last := op.Frontier[0], op.Frontier[len(op.Frontier)-1]
	if first.Figures["p99"] != 3 || last.Figures["usd_per_hour"] != 2.5 {
		t.Errorf("frontier ends: %s (p99 %v), %s (usd/h %v)", first.Point.Key(), first.Figures["p99"], last.Point.Key(), last.Figures["usd_per_hour"])
	}
}

// Trials of one point count once, in the order first measured; the
// header is no point.
func TestMeasuredGridHasEachPointOnce(t *testing.T) {
	a := results.Point{GPUs: 1, Clients: 1}
	b := results.Point{GPUs: 2, Clients: 1}
	recs := []results.Record{{Kind: results.KindHeader}, {Point: a, Trial: 0}, {Point: b}, {Point: a, Trial: 1}}
	got := MeasuredGrid(recs)
	if len(got) != 2 || got[0] != a || got[1] != b {
		t.Errorf("grid %v, want [%v %v]", got, a, b)
	}
}
