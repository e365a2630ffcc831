package sweep

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// synthSystem is an analytic serving system standing in for servers: closed-loop
// clients (each with rate requests in flight) against GPUs × model
// instances. Throughput is the smooth minimum of what the clients offer
// and what the GPUs can serve; by Little's law latency is load over
// throughput, so p99 rises once the GPUs saturate.
type synthSystem struct {
	capPerGPU float64 // inferences/s of one GPU at the best instance count
	bestInst  float64 // instances per GPU with the highest efficiency
	instWidth float64 // how fast efficiency falls away from bestInst (log2 units)
	perClient float64 // inferences/s one in-flight request drives when unloaded
	gpuLoss   float64 // per-GPU capacity lost per extra GPU (host bottleneck)
	thrash    float64 // in-flight requests beyond which throughput falls (by up to half); 0: never
	baseMS    float64 // p99 of an unloaded request
	batchHalf float64 // batch size at which batching reaches half its gain; 0: batching gains nothing
	noise     float64 // relative noise, deterministic per point and trial
	failing   func(results.Point) bool
}

// throughput in inferences per second.
func (m synthSystem) throughput(p results.Point) float64 {
	g := float64(max(p.GPUs, 1))
	inst := float64(max(p.Instances, 1))
	batch := float64(max(p.BatchSize, 1))
	eff := 1.0
	if m.instWidth > 0 {
		x := math.Log2(inst/m.bestInst) / m.instWidth
		eff = 0.4 + 0.6*math.Exp(-x*x)
	}
	if m.batchHalf > 0 {
		eff *= (1 + m.batchHalf) * batch / (batch + m.batchHalf)
	}
	capacity := m.capPerGPU * g / (1 + m.gpuLoss*(g-1)) * eff * float64(max(p.Servers, 1))
	load := m.load(p)
	// A request of b items takes longer than one of a single item.
	offered := m.perClient * load * batch / (1 + 0.3*(batch-1))
	t := math.Pow(math.Pow(capacity, -4)+math.Pow(offered, -4), -0.25)
	if m.thrash > 0 {
		// Contention past the thrash point costs up to half the throughput.
		x := math.Pow(load/m.thrash, 4)
		t *= 1 - 0.5*x/(1+x)
	}
	return t
}

// load is the number of requests in flight.
func (m synthSystem) load(p results.Point) float64 {
	return float64(max(p.Clients, 1)) * math.Max(p.Rate, 1)
}

// p99MS by Little's law: requests in flight over request throughput.
func (m synthSystem) p99MS(p results.Point, t float64) float64 {
	batch := float64(max(p.BatchSize, 1))
	return math.Max(m.baseMS*(1+0.3*(batch-1)), 3*m.load(p)*batch/t*1e3)
}

// jitter is a deterministic factor 1 ± noise for a point and trial.
func (m synthSystem) jitter(p results.Point, trial int, salt string) float64 {
	if m.noise == 0 {
		return 1
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d#%s", p.Key(), trial, salt)
	u := float64(h.Sum64()%1e6)/1e6*2 - 1
	return 1 + m.noise*u
}

// record is one trial of p as a sweep would record it.
func (m synthSystem) record(p results.Point, trial int) results.Record {
	r := results.Record{Kind: results.KindPoint, Point: p, Trial: trial, Attempt: 1, Source: results.SourceSimulated}
	if m.failing != nil && m.failing(p) {
		r.Status, r.Reason = results.StatusFailed, "prepare: out of GPU memory"
		return r
	}
	t := m.throughput(p) * m.jitter(p, trial, "t")
	p99 := m.p99MS(p, t) * m.jitter(p, trial, "l")
	batch := float64(max(p.BatchSize, 1))
	r.Status = results.StatusOK
	r.Measurement = &results.Measurement{
		ThroughputIPS: t, ThroughputRPS: t / batch, Requests: 1000,
		Latency: results.LatencySummary{P50US: p99 * 400, MeanUS: p99 * 450, P90US: p99 * 700, P95US: p99 * 850, P99US: p99 * 1e3, P999US: p99 * 1.3e3, MaxUS: p99 * 2e3},
	}
	return r
}

// searchScenario parses a test scenario: model mlp on the embedded target with
// the given dimensions, cost and search sections (YAML, unindented).
func searchScenario(t testing.TB, dims, costYAML, search string) *scenarios.Scenario {
	t.Helper()
	y := "name: synthetic\nworkload:\n  model: mlp\nserver:\n  emulated_gpu_profile: h200-mlp\n" + yamlSection("dimensions", dims) + yamlSection("cost", costYAML) + yamlSection("search", search)
	s, err := scenarios.Parse([]byte(y), "synthetic.yaml")
	if err != nil {
		t.Fatalf("scenario:\n%s\n%v", y, err)
	}
	return s
}

func yamlSection(key, body string) string {
	if body == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	return key + ":\n  " + strings.Join(lines, "\n  ") + "\n"
}

// searchSystem answers measurements in place of servers.
type searchSystem interface {
	record(p results.Point, trial int) results.Record
}

// driveSearch runs strategy st the way sweep.Run does: Next, measure every
// trial of the point through m, append, repeat. It fails the test when a
// point is picked twice or the strategy never stops.
func driveSearch(t testing.TB, st Strategy, s *scenarios.Scenario, m searchSystem) (recs []results.Record, why string) {
	t.Helper()
	seen := map[string]bool{}
	trials := max(s.Measure.Trials, 1)
	for range len(s.Points()) + 1 {
		p, why, ok := st.Next(recs)
		if !ok {
			return recs, why
		}
		if seen[p.Key()] {
			t.Fatalf("%s picked %s twice", st.Name(), p)
		}
		seen[p.Key()] = true
		for trial := range trials {
			r := m.record(p, trial)
			r.Strategy, r.Order = st.Name(), len(recs)
			recs = append(recs, r)
		}
	}
	t.Fatalf("%s did not stop after %d points", st.Name(), len(s.Points())+1)
	return nil, ""
}

// bestFeasibleOf is the lowest-cost feasible point of recs under s's cost.
func bestFeasibleOf(t testing.TB, s *scenarios.Scenario, recs []results.Record) *cost.Evaluated {
	t.Helper()
	evals, err := cost.Evaluate(recs, s.Cost)
	if err != nil {
		t.Fatal(err)
	}
	var best *cost.Evaluated
	for i := range evals {
		if evals[i].Feasible && (best == nil || evals[i].Cost < best.Cost) {
			best = &evals[i]
		}
	}
	return best
}

// measureGrid measures the whole grid through m.
func measureGrid(t testing.TB, s *scenarios.Scenario, m searchSystem) []results.Record {
	t.Helper()
	recs, _ := driveSearch(t, NewGrid(s), s, m)
	return recs
}

// distinctPoints counts the distinct points of recs.
func distinctPoints(recs []results.Record) int {
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Point.Key()] = true
	}
	return len(seen)
}

// onGridEdge reports whether p takes the smallest or largest value of some
// varied dimension of s.
func onGridEdge(t testing.TB, s *scenarios.Scenario, p results.Point) bool {
	t.Helper()
	for _, d := range s.Varied() {
		xs, err := s.DimensionValues(d)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := p.Coord(d)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
		if v == lo || v == hi {
			return true
		}
	}
	return false
}

const (
	searchGPUDims = `gpus: [1, 2, 4, 8]
instances: [1, 2, 3, 4, 6]
clients: [1, 2, 4, 8, 16, 32]`
	searchGPUPrices = `prices:
  gpu_hour: {default: 2.5}
  node_hour: 4
objective: usd_per_million`
)

// interiorSystem has its cheapest point inside the grid along every
// dimension: instances peak at 3, the host bottleneck makes 8 GPUs
// poor value, and too many clients thrash.
var interiorSystem = synthSystem{capPerGPU: 4000, bestInst: 3, instWidth: 0.8, perClient: 500, gpuLoss: 0.2, thrash: 40, baseMS: 2}

// edgeSystem has its cheapest point at the grid's edge: throughput grows
// with clients up to 32 and instances up to 6, the grid's largest values.
var edgeSystem = synthSystem{capPerGPU: 3000, bestInst: 6, instWidth: 1.2, perClient: 500, gpuLoss: 0.12, baseMS: 2}

// latencySystem saturates early, so that a p99 limit rules out the
// high-client half of the grid where throughput per dollar is best.
var latencySystem = synthSystem{capPerGPU: 2500, bestInst: 3, instWidth: 1, perClient: 400, gpuLoss: 0.1, baseMS: 2.5}

type optimumCase struct {
	name   string
	dims   string
	cost   string
	search string
	model  synthSystem
	where  string // "interior" or "edge": where the true optimum lies
}

var optimumCases = []optimumCase{
	{name: "interior", dims: searchGPUDims, cost: searchGPUPrices, model: interiorSystem, where: "interior"},
	{name: "edge", dims: searchGPUDims, cost: searchGPUPrices, model: edgeSystem, where: "edge"},
	{name: "p99 limit", dims: searchGPUDims, cost: searchGPUPrices + "\nconstraints: [\"p99 <= 12ms\"]", model: latencySystem},
}

func TestAdaptiveFindsOptimum(t *testing.T) {
	for _, tc := range optimumCases {
		t.Run(tc.name, func(t *testing.T) {
			s := searchScenario(t, tc.dims, tc.cost, tc.search)
			n := len(s.Points())
			if n < 48 {
				t.Fatalf("grid of %d points: want at least 48 for this test", n)
			}
			truth := bestFeasibleOf(t, s, measureGrid(t, s, tc.model))
			if truth == nil {
				t.Fatal("no feasible grid point: bad test model")
			}
			if tc.where != "" && onGridEdge(t, s, truth.Point) != (tc.where == "edge") {
				t.Fatalf("true optimum %s is not on the grid's %s (bad test model)", truth.Point, tc.where)
			}
			a, err := NewAdaptive(s)
			if err != nil {
				t.Fatal(err)
			}
			recs, why := driveSearch(t, a, s, tc.model)
			got := bestFeasibleOf(t, s, recs)
			if got == nil {
				t.Fatalf("adaptive found no feasible point in %d points (stopped: %s)", distinctPoints(recs), why)
			}
			if !got.Feasible {
				t.Errorf("chosen point %s is infeasible: %v", got.Point, got.Violations)
			}
			if !strings.HasPrefix(why, "expected improvement ") {
				t.Errorf("stopped with %q; want the default min_improvement to end the search before its budget", why)
			}
			if m := distinctPoints(recs); float64(m) > 0.3*float64(n) {
				t.Errorf("measured %d of %d points, more than 30%%", m, n)
			}
			if got.Cost > truth.Cost*1.05 {
				t.Errorf("adaptive best %s costs %.4g, more than 5%% above the grid optimum %s at %.4g (measured %d of %d; stopped: %s)",
					got.Point, got.Cost, truth.Point, truth.Cost, distinctPoints(recs), n, why)
			}
			t.Logf("%d of %d points, cost %.4g vs optimum %.4g (%s vs %s); stopped: %s",
				distinctPoints(recs), n, got.Cost, truth.Cost, got.Point, truth.Point, why)
		})
	}
}

// nodeDims is a 5×6 grid of two dimensions on a CPU node.
const (
	nodeDims   = "instances: [1, 2, 3, 4, 6]\nclients: [1, 2, 4, 8, 16, 32]"
	nodePrices = "prices:\n  node_hour: 0.5\nobjective: usd_per_million"
)

// nodeModel serves up to 4000/s at 3 instances.
var nodeModel = synthSystem{capPerGPU: 4000, bestInst: 3, instWidth: 1, perClient: 500, baseMS: 2}

func mustNewAdaptive(t *testing.T, s *scenarios.Scenario) *Adaptive {
	t.Helper()
	a, err := NewAdaptive(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The design brackets the grid, so the fit interpolates rather than
// extrapolates: for two dimensions, the centre and the four corners.
func TestAdaptiveDesignBracketsGrid(t *testing.T) {
	s := searchScenario(t, nodeDims, nodePrices, "")
	a := mustNewAdaptive(t, s)
	var recs []results.Record
	got := map[string]bool{}
	for range 5 {
		p, why, ok := a.Next(recs)
		if !ok {
			t.Fatalf("stopped during the design: %s", why)
		}
		got[fmt.Sprintf("%d,%d", p.Instances, p.Clients)] = true
		recs = append(recs, nodeModel.record(p, 0))
	}
	for _, want := range []string{"3,4", "1,1", "1,32", "6,1", "6,32"} {
		if !got[want] {
			t.Errorf("design %v lacks instances,clients = %s", got, want)
		}
	}
}

func TestAdaptiveBudgetPoints(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "budget_points: 6")
	a := mustNewAdaptive(t, s)
	if a.Size() != 6 {
		t.Errorf("Size() = %d, want the budget 6", a.Size())
	}
	recs, why := driveSearch(t, a, s, interiorSystem)
	if n := distinctPoints(recs); n != 6 || why != "budget of 6 points spent" {
		t.Errorf("measured %d points, stopped with %q; want 6 and \"budget of 6 points spent\"", n, why)
	}
}

func TestAdaptiveDefaultBudget(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "")
	if got, want := mustNewAdaptive(t, s).Size(), 36; got != want {
		t.Errorf("default budget of a 120-point grid = %d, want 30%% = %d", got, want)
	}
	// A small grid still gets its whole design: 2·3+1 points of 12.
	s = searchScenario(t, "gpus: [1, 2]\ninstances: [1, 2]\nclients: [1, 2, 4]", searchGPUPrices, "")
	if got := mustNewAdaptive(t, s).Size(); got != 7 {
		t.Errorf("default budget of a 12-point grid in 3 dimensions = %d, want the design's 7", got)
	}
}

// Time spent is the sum of the records' durations, earlier runs included.
func TestAdaptiveBudgetTime(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "budget_time: 5s")
	a := mustNewAdaptive(t, s)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []results.Record
	for {
		p, why, ok := a.Next(recs)
		if !ok {
			if len(recs) != 5 || !strings.HasPrefix(why, "budget of time 5s spent") {
				t.Fatalf("stopped after %d one-second points with %q; want 5 and the time budget", len(recs), why)
			}
			return
		}
		if len(recs) > 5 {
			t.Fatalf("measured %d one-second points on a 5s budget", len(recs))
		}
		r := interiorSystem.record(p, 0)
		r.Started = start.Add(time.Duration(len(recs)) * time.Hour) // gaps between runs do not count
		r.Finished = r.Started.Add(time.Second)
		recs = append(recs, r)
	}
}

// Failed points count as measured, so they are never picked again, and
// the search still finds the optimum among the points that work.
func TestAdaptiveFailedPoints(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "")
	m := interiorSystem
	m.failing = func(p results.Point) bool { return p.Instances == 6 || p.GPUs == 8 && p.Clients == 32 }
	recs, why := driveSearch(t, mustNewAdaptive(t, s), s, m) // driveSearch fails on a repeat
	failed := 0
	for _, r := range recs {
		if r.Status == results.StatusFailed {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no failing point was picked: the test does not test failures")
	}
	truth := bestFeasibleOf(t, s, measureGrid(t, s, m))
	got := bestFeasibleOf(t, s, recs)
	if got == nil || got.Cost > 1.05*truth.Cost {
		t.Fatalf("best %+v, want within 5%% of %.4g at %s (stopped: %s)", got, truth.Cost, truth.Point, why)
	}

	// Nothing works: the search spreads out over the grid and stops at
	// its budget, not in a loop.
	m.failing = func(results.Point) bool { return true }
	recs, why = driveSearch(t, mustNewAdaptive(t, s), s, m)
	if n := distinctPoints(recs); n != 36 || why != "budget of 36 points spent" {
		t.Errorf("all failing: %d points, stopped with %q; want the budget of 36", n, why)
	}
}

// A point whose trials were cut short is finished before anything else.
func TestAdaptiveFinishesCutShortPoint(t *testing.T) {
	s := searchScenario(t, nodeDims, nodePrices, "")
	s.Measure.Trials = 3
	a := mustNewAdaptive(t, s)
	var recs []results.Record
	p, _, _ := a.Next(nil)
	for trial := range 3 {
		recs = append(recs, nodeModel.record(p, trial))
	}
	q, _, _ := a.Next(recs)
	recs = append(recs, nodeModel.record(q, 0)) // interrupted after trial 0
	if r, _, ok := a.Next(recs); !ok || r != q {
		t.Fatalf("after a cut-short point %s the search picked %s (ok %v), want it again", q, r, ok)
	}
	recs = append(recs, nodeModel.record(q, 1), nodeModel.record(q, 2))
	if r, _, ok := a.Next(recs); !ok || r == q || r == p {
		t.Fatalf("after completing %s the search picked %s (ok %v)", q, r, ok)
	}
}

// Along clients, once throughput stops growing and p99 grows, more
// clients at the same other coordinates are skipped; elsewhere not.
func TestAdaptiveSkipsSaturatedClients(t *testing.T) {
	s := searchScenario(t, "instances: [1, 2]\nclients: [1, 2, 4, 8, 16, 32]", nodePrices, "")
	a := mustNewAdaptive(t, s)
	pt := func(inst, clients int) results.Point {
		return results.Point{Instances: inst, Clients: clients, Rate: 1, BatchSize: 1, Servers: 1}
	}
	rec := func(inst, clients int, ips, p99ms float64) results.Record {
		return results.Record{Kind: results.KindPoint, Point: pt(inst, clients), Status: results.StatusOK,
			Measurement: &results.Measurement{ThroughputIPS: ips, ThroughputRPS: ips, Latency: results.LatencySummary{P99US: p99ms * 1e3}}}
	}
	recs := []results.Record{
		rec(1, 1, 1000, 2), rec(1, 2, 1900, 2.2), rec(1, 4, 1950, 4.1), // saturated from 2 to 4
		rec(2, 1, 1000, 2), rec(2, 4, 3900, 2.1), // still growing
	}
	evals, err := cost.Evaluate(recs, s.Cost)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]results.Point{}
	for _, r := range recs {
		seen[r.Point.Key()] = r.Point
	}
	skip, why := a.saturated(evals, seen)
	for _, c := range []int{8, 16, 32} {
		if !skip[pt(1, c).Key()] {
			t.Errorf("instances=1 clients=%d not skipped after saturation at 4 (skip %v)", c, skip)
		}
		if skip[pt(2, c).Key()] {
			t.Errorf("instances=2 clients=%d skipped, but throughput there still grows", c)
		}
	}
	if len(skip) != 3 || why != "3 beyond saturation along clients" {
		t.Errorf("skip %v, %q; want the 3 points above clients=4 at instances=1", skip, why)
	}

	// p99 falling means the step did not just queue: no skip.
	recs[2] = rec(1, 4, 1950, 1.9)
	evals, _ = cost.Evaluate(recs, s.Cost)
	if skip, _ := a.saturated(evals, seen); len(skip) != 0 {
		t.Errorf("skipped %v although p99 fell", skip)
	}
	// A small step on a fine axis is judged by the load it adds: +5% load
	// for +4% throughput is not saturation.
	s = searchScenario(t, "clients: [20, 21, 22, 23]", nodePrices, "")
	evals, _ = cost.Evaluate([]results.Record{rec(1, 20, 2000, 3), rec(1, 21, 2080, 3.1)}, s.Cost)
	if skip, _ := mustNewAdaptive(t, s).saturated(evals, nil); len(skip) != 0 {
		t.Errorf("skipped %v after a 5%% step in load gave 4%% more throughput", skip)
	}
}

// A saturating system exhausts a small grid with points skipped, and
// says so.
func TestAdaptiveExhaustsGrid(t *testing.T) {
	s := searchScenario(t, "clients: [1, 2, 4, 8, 16, 32, 64]", nodePrices, "budget_points: 7\nmin_improvement: 1e-9")
	m := synthSystem{capPerGPU: 1000, perClient: 500, baseMS: 2} // saturated from 2 clients on
	recs, why := driveSearch(t, mustNewAdaptive(t, s), s, m)
	if !strings.HasPrefix(why, "grid exhausted: ") || !strings.Contains(why, "beyond saturation along clients") {
		t.Errorf("stopped with %q after %d points; want the grid exhausted with saturated points skipped", why, distinctPoints(recs))
	}
	if distinctPoints(recs) >= 7 {
		t.Errorf("measured all %d points: nothing skipped", distinctPoints(recs))
	}
}

func TestAdaptiveStopsWhenNothingFeasible(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices+"\nconstraints: [\"p99 <= 0.1ms\"]", "")
	recs, why := driveSearch(t, mustNewAdaptive(t, s), s, interiorSystem)
	if !strings.HasPrefix(why, "no measured point is feasible") {
		t.Errorf("stopped with %q after %d points; want that nothing is likely feasible", why, distinctPoints(recs))
	}
	if distinctPoints(recs) >= 36 {
		t.Errorf("spent the whole budget (%d points) on an infeasible grid", distinctPoints(recs))
	}
}

// MinImprovement is a fraction of the best cost: a large one stops the
// search right after the design.
func TestAdaptiveMinImprovement(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "min_improvement: 0.9")
	recs, why := driveSearch(t, mustNewAdaptive(t, s), s, interiorSystem)
	if distinctPoints(recs) != 7 || !strings.HasPrefix(why, "expected improvement ") || !strings.Contains(why, "% < 90% of the best cost") {
		t.Errorf("%d points, stopped with %q; want the 7-point design then the improvement threshold", distinctPoints(recs), why)
	}
}

func TestChooseStrategy(t *testing.T) {
	s := searchScenario(t, nodeDims, nodePrices, "")
	for _, tc := range []struct{ strategy, want string }{{"", "grid"}, {"grid", "grid"}, {"adaptive", "adaptive"}} {
		s.Search.Strategy = tc.strategy
		st, err := Choose(s)
		if err != nil || st.Name() != tc.want {
			t.Errorf("Choose(strategy %q) = %v, %v; want %s", tc.strategy, st, err, tc.want)
		}
	}
	s.Search.Strategy = "random"
	if _, err := Choose(s); err == nil || !strings.Contains(err.Error(), `search.strategy "random"`) {
		t.Errorf("Choose(strategy random): error %v, want one naming search.strategy", err)
	}
}

func TestNewAdaptiveErrors(t *testing.T) {
	if _, err := NewAdaptive(nil); err == nil {
		t.Error("NewAdaptive(nil) gave no error")
	}
	s := searchScenario(t, nodeDims, nodePrices, "")
	s.Cost.Objective = "speed"
	if _, err := NewAdaptive(s); err == nil || !strings.Contains(err.Error(), "speed") {
		t.Errorf("unknown objective: error %v, want one naming it", err)
	}
	s = searchScenario(t, searchGPUDims, searchGPUPrices, "")
	s.Cost.Prices.GPUHour = nil
	if _, err := NewAdaptive(s); err == nil || !strings.Contains(err.Error(), "gpu_hour") {
		t.Errorf("GPU grid without a GPU price: error %v, want one naming gpu_hour", err)
	}
}

// fakeTarget prepares nothing: the measurer answers from a synthetic
// system.
type fakeTarget struct{}

func (fakeTarget) Prepare(context.Context, results.Point) (*Deployment, error) {
	return &Deployment{Server: "synthetic"}, nil
}
func (fakeTarget) Close() error { return nil }

// Through sweep.Run: records name the strategy, the summary says why the
// search stopped, and a resumed sweep measures nothing new.
func TestAdaptiveThroughRun(t *testing.T) {
	s := searchScenario(t, searchGPUDims, searchGPUPrices, "strategy: adaptive")
	st, err := Choose(s)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Attempts: 2, Scenario: s, ResultsPath: filepath.Join(t.TempDir(), "adaptive.jsonl"), Target: fakeTarget{}, Strategy: st,
		Measure: func(_ context.Context, _ *Deployment, _ *scenarios.Scenario, p results.Point) (*results.Measurement, error) {
			return interiorSystem.record(p, 0).Measurement, nil
		},
	}
	sum, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	pts := results.Points(sum.Records)
	if !strings.HasPrefix(sum.StopReason, "expected improvement ") || distinctPoints(pts) > 36 || sum.Measured != distinctPoints(pts) {
		t.Fatalf("stopped with %q after %d points (%d measured); want the improvement threshold within 36", sum.StopReason, distinctPoints(pts), sum.Measured)
	}
	for _, r := range pts {
		if r.Strategy != "adaptive" {
			t.Fatalf("record of %s has strategy %q", r.Point, r.Strategy)
		}
	}
	opts.Strategy = mustNewAdaptive(t, s)
	again, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Measured != 0 || again.StopReason != sum.StopReason {
		t.Errorf("resumed sweep measured %d points and stopped with %q; want 0 and %q", again.Measured, again.StopReason, sum.StopReason)
	}
}

// Saturation is exploited along clients, and along rate only where rate
// is the requests in flight per client.
func TestAdaptiveMonotoneDimensions(t *testing.T) {
	for _, tc := range []struct{ workload, want string }{
		{"model: mlp\n  mode: closed", "clients,rate"},
		{"model: mlp\n  mode: open", "clients"},
		{"model: stream-e2e\n  mode: closed\n  rpc: stream\n  sequence: true\n  data_seconds: 64", "clients"},
	} {
		y := "name: m\nworkload:\n  " + tc.workload + "\ndimensions:\n  clients: [1, 2, 4]\n  rate: [1, 2, 4]\ncost:\n  " + strings.ReplaceAll(nodePrices, "\n", "\n  ") + "\n"
		s, err := scenarios.Parse([]byte(y), "m.yaml")
		if err != nil {
			t.Fatalf("%s\n%v", y, err)
		}
		if got := strings.Join(mustNewAdaptive(t, s).monotone, ","); got != tc.want {
			t.Errorf("workload %q: saturation exploited along %q, want %q", tc.workload, got, tc.want)
		}
	}
}
