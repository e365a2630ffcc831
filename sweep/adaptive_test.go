package sweep

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
)

// synth is an analytic serving system standing in for servers: closed-loop
// clients (each with rate requests in flight) against GPUs × model
// instances. Throughput is the smooth minimum of what the clients offer
// and what the GPUs can serve; by Little's law latency is load over
// throughput, so p99 rises once the GPUs saturate.
type synth struct {
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
func (m synth) throughput(p results.Point) float64 {
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
func (m synth) load(p results.Point) float64 {
	return float64(max(p.Clients, 1)) * math.Max(p.Rate, 1)
}

// p99MS by Little's law: requests in flight over request throughput.
func (m synth) p99MS(p results.Point, t float64) float64 {
	batch := float64(max(p.BatchSize, 1))
	return math.Max(m.baseMS*(1+0.3*(batch-1)), 3*m.load(p)*batch/t*1e3)
}

// jitter is a deterministic factor 1 ± noise for a point and trial.
func (m synth) jitter(p results.Point, trial int, salt string) float64 {
	if m.noise == 0 {
		return 1
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s#%d#%s", p.Key(), trial, salt)
	u := float64(h.Sum64()%1e6)/1e6*2 - 1
	return 1 + m.noise*u
}

// record is one trial of p as a sweep would record it.
func (m synth) record(p results.Point, trial int) results.Record {
	r := results.Record{Kind: "point", Point: p, Trial: trial, Attempt: 1, Source: results.SourceSimulated}
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

// scenarioOf parses a test scenario: model mlp on the embedded target with
// the given dimensions, cost and search sections (YAML, unindented).
func scenarioOf(t testing.TB, dims, costYAML, search string) *scenarios.Scenario {
	t.Helper()
	y := "name: synthetic\nworkload:\n  model: mlp\nserver:\n  emulated_gpu_profile: h200-mlp\n" + indent("dimensions", dims) + indent("cost", costYAML) + indent("search", search)
	s, err := scenarios.Parse([]byte(y), "synthetic.yaml")
	if err != nil {
		t.Fatalf("scenario:\n%s\n%v", y, err)
	}
	return s
}

func indent(key, body string) string {
	if body == "" {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	return key + ":\n  " + strings.Join(lines, "\n  ") + "\n"
}

// drive runs strategy st the way sweep.Run does: Next, measure every
// trial of the point through m, append, repeat. It fails the test when a
// point is picked twice or the strategy never stops.
func drive(t testing.TB, st Strategy, s *scenarios.Scenario, m synth) (recs []results.Record, why string) {
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

// bestFeasible is the lowest-cost feasible point of recs under s's cost.
func bestFeasible(t testing.TB, s *scenarios.Scenario, recs []results.Record) *cost.Evaluated {
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

// gridRecords measures the whole grid through m.
func gridRecords(t testing.TB, s *scenarios.Scenario, m synth) []results.Record {
	t.Helper()
	recs, _ := drive(t, NewGrid(s), s, m)
	return recs
}

// distinct counts the distinct points of recs.
func distinct(recs []results.Record) int {
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Point.Key()] = true
	}
	return len(seen)
}

// onEdge reports whether p takes the smallest or largest value of some
// varied dimension of s.
func onEdge(t testing.TB, s *scenarios.Scenario, p results.Point) bool {
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
	gpuDims = `gpus: [1, 2, 4, 8]
instances: [1, 2, 3, 4, 6]
clients: [1, 2, 4, 8, 16, 32]`
	gpuPrices = `prices:
  gpu_hour: {default: 2.5}
  node_hour: 4
objective: usd_per_million`
)

// interiorModel has its cheapest point inside the grid along every
// dimension: instances peak at 3, the host bottleneck makes 8 GPUs
// poor value, and too many clients thrash.
var interiorModel = synth{capPerGPU: 4000, bestInst: 3, instWidth: 0.8, perClient: 500, gpuLoss: 0.2, thrash: 40, baseMS: 2}

// edgeModel has its cheapest point at the grid's edge: throughput grows
// with clients up to 32 and instances up to 4.
var edgeModel = synth{capPerGPU: 3000, bestInst: 6, instWidth: 1.2, perClient: 500, gpuLoss: 0.12, baseMS: 2}

// latencyModel saturates early, so that a p99 limit rules out the
// high-client half of the grid where throughput per dollar is best.
var latencyModel = synth{capPerGPU: 2500, bestInst: 3, instWidth: 1, perClient: 400, gpuLoss: 0.1, baseMS: 2.5}

type searchCase struct {
	name   string
	dims   string
	cost   string
	search string
	model  synth
	where  string // "interior" or "edge": where the true optimum lies
}

var searchCases = []searchCase{
	{name: "interior", dims: gpuDims, cost: gpuPrices, model: interiorModel, where: "interior"},
	{name: "edge", dims: gpuDims, cost: gpuPrices, model: edgeModel, where: "edge"},
	{name: "p99 limit", dims: gpuDims, cost: gpuPrices + "\nconstraints: [\"p99 <= 12ms\"]", model: latencyModel},
}

func TestAdaptiveFindsOptimum(t *testing.T) {
	for _, tc := range searchCases {
		t.Run(tc.name, func(t *testing.T) {
			s := scenarioOf(t, tc.dims, tc.cost, tc.search)
			n := len(s.Points())
			if n < 48 {
				t.Fatalf("grid of %d points: want at least 48 for this test", n)
			}
			truth := bestFeasible(t, s, gridRecords(t, s, tc.model))
			if truth == nil {
				t.Fatal("no feasible grid point: bad test model")
			}
			if tc.where != "" && onEdge(t, s, truth.Point) != (tc.where == "edge") {
				t.Fatalf("true optimum %s is not on the grid's %s (bad test model)", truth.Point, tc.where)
			}
			a, err := NewAdaptive(s)
			if err != nil {
				t.Fatal(err)
			}
			recs, why := drive(t, a, s, tc.model)
			got := bestFeasible(t, s, recs)
			if got == nil {
				t.Fatalf("adaptive found no feasible point in %d points (stopped: %s)", distinct(recs), why)
			}
			if !got.Feasible {
				t.Errorf("chosen point %s is infeasible: %v", got.Point, got.Violations)
			}
			if why == "" {
				t.Error("stop reason is empty")
			}
			if m := distinct(recs); float64(m) > 0.3*float64(n) {
				t.Errorf("measured %d of %d points, more than 30%%", m, n)
			}
			if got.Cost > truth.Cost*1.05 {
				t.Errorf("adaptive best %s costs %.4g, more than 5%% above the grid optimum %s at %.4g (measured %d of %d; stopped: %s)",
					got.Point, got.Cost, truth.Point, truth.Cost, distinct(recs), n, why)
			}
			t.Logf("%d of %d points, cost %.4g vs optimum %.4g (%s vs %s); stopped: %s",
				distinct(recs), n, got.Cost, truth.Cost, got.Point, truth.Point, why)
		})
	}
}
