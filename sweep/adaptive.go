package sweep

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/workload"
)

// Defaults of an adaptive search whose scenario leaves them unset.
const (
	// DefaultBudgetFraction of the grid is the default point budget
	// (rounded up, never below the initial design).
	DefaultBudgetFraction = 0.3
	// DefaultMinImprovement: the search stops when the largest expected
	// improvement is below this fraction of the best feasible cost.
	DefaultMinImprovement = 0.01
)

const (
	// saturationGain: along clients (and rate in closed loop) a step
	// from load m to m' whose throughput gains less than this fraction of
	// m'/m − 1 (5% for a doubling), with p99 not falling, means the line
	// has saturated. Scaling by the step keeps a fine linear axis (20,
	// 21, 22 clients) from looking saturated.
	saturationGain = 0.05
	// minFeasibility: with no feasible point measured yet, the search
	// stops when no unmeasured point is at least this likely feasible.
	minFeasibility = 1e-3
	// maxRelErr caps a fit's relative leave-one-out error, so that one
	// wild fit does not make every point look equally promising.
	maxRelErr = 3.0
	// looConfidence sets how far above the measured leave-one-out error
	// e the search assumes the fit's error may be: e·(1 + looConfidence/√n)
	// for a fit of n points. An RMS of n residuals has a standard error
	// of about e/√(2n), so this is some 2.8 standard errors above it.
	looConfidence = 2.0
)

// Adaptive is a search strategy that measures a small space-filling
// design, then the grid points whose measurement is expected to lower the
// best feasible cost the most, and stops when that expectation is too
// small to be worth a measurement.
//
// Design. The grid point nearest the centre of the grid, then greedy
// maximin picks (each the grid point farthest from those picked, ties in
// grid order): 2·d+1 points for d varied dimensions, fewer if the budget
// is smaller; for two dimensions the centre and the four corners.
// Distances are taken in grid-index space: the k-th of a dimension's n
// sorted values sits at k/(n−1), so a geometric axis (1, 2, 4, 8) is
// evenly spaced, as the cost surface's log scale sees it.
//
// Criterion. After the design, each call fits cost.NewSurface over
// the varied dimensions to every usable measured point and scores each
// unmeasured grid point x by its expected improvement over b, the lowest
// cost among the feasible measured points:
//
//	EI(x) = PF(x) · E[max(b − C(x), 0)]
//
// The fit interpolates and has no variance of its own, so the cost C(x)
// is taken as log-normal around the prediction μ(x) = Surface.At(x).Cost,
// with ln|C| of standard deviation
//
//	s(x) = e · √(δ(x)/δ̄)
//
// which gives EI = PF·[b·Φ(z) − μ·e^(s²/2)·Φ(z − s)], z = ln(b/μ)/s, for
// a positive cost (for a maximised figure, whose cost is negative, the
// mirror image; PF·max(b − μ, 0) when s = 0). Here e is the relative
// leave-one-out error (FigureSurface.LOO) of the figure the objective rests on:
// throughput for usd_per_million, data_rate for usd_per_data_hour, the
// objective figure itself otherwise, 0 for usd_per_hour (known exactly
// from the point's size), 1 while a figure has a single point. Because an
// RMS of n residuals is itself uncertain, e is raised to
// e·(1 + 2/√n) for a fit of n distinct points (capped at 3). δ(x) is the
// distance from x to the nearest usable measured point and δ̄ the mean
// distance from a measured point to its nearest measured neighbour: the
// distance at which e was observed, so s = e there, shrinking to 0 at a
// measured point. A weighted objective is taken as normal instead, its
// standard deviation that of the sum of its terms w·v/norm, each with its
// figure's e (norm as in cost.Evaluate).
//
// PF(x) is the probability of feasibility: the product over the
// constraints of the chance that the figure meets its limit, taking the
// figure as log-normal around its prediction v with the same s built
// from its own e: Φ(ln(limit/v)/s) for an upper limit, Φ(ln(v/limit)/s)
// for a lower one. A figure no fit predicts makes PF 0, as it makes a
// point infeasible in cost.Evaluate.
//
// The next point has the highest EI (ties: lower μ, then grid order).
// Until some measured point is feasible, there is no b, and the next
// point is the one most likely feasible.
//
// Monotonic structure is used where it is safe: along clients (and rate
// in closed loop without sequences or a data budget, where rate is each
// client's concurrency), once two
// consecutive measured values m < m' at the same other coordinates show
// throughput gaining less than 5%·(m'/m − 1) (5% for a doubling) while
// p99 did not fall, more load can only queue, so the values above m' at
// those coordinates are skipped.
//
// Stopping, with the reason in why: the point budget is spent
// (Search.BudgetPoints; default 30% of the grid rounded up, at least the
// design, at most the grid); the time spent measuring, the sum of every
// point record's Finished − Started, reaches Search.BudgetTime; no grid
// point is left to measure; the largest EI is below Search.MinImprovement
// (a fraction, default 0.01) of |b|; or, with nothing feasible measured,
// no point is at least 0.1% likely to be feasible.
//
// A point counts as measured once it has any record, failed or not, so a
// failing point is never picked again; failed points add no data to the
// fit. A point whose trials were cut short (a sweep interrupted between
// trials) is returned again first, so that a resumed sweep completes it.
// Next depends only on its argument, records of earlier runs included,
// so a resumed sweep continues the same search.
type Adaptive struct {
	spec        cost.Spec
	objective   string
	constraints []cost.Constraint
	grid        []results.Point
	dims        []string    // varied dimensions, results.Dimensions order
	axes        [][]float64 // sorted values of each of dims
	design      []results.Point
	budget      int
	budgetTime  time.Duration
	minImprove  float64
	trials      int
	monotone    []string // dimensions along which saturation is exploited
}

// NewAdaptive builds the adaptive search of a validated scenario. It is
// an error when the scenario's cost spec is invalid (the search needs it
// to fit and judge points) or its grid uses GPUs without a GPU price.
func NewAdaptive(s *scenarios.Scenario) (*Adaptive, error) {
	if s == nil {
		return nil, errors.New("adaptive search: no scenario")
	}
	spec := s.Cost
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("adaptive search of scenario %s: cost: %w", s.Name, err)
	}
	a := &Adaptive{spec: spec, objective: spec.Objective, grid: s.Points(), trials: max(s.Measure.Trials, 1)}
	if a.objective == "" {
		a.objective = cost.DefaultObjective
	}
	for i, text := range spec.Constraints {
		c, err := cost.ParseConstraint(text)
		if err != nil {
			return nil, fmt.Errorf("adaptive search of scenario %s: cost.constraints[%d]: %w", s.Name, i, err)
		}
		a.constraints = append(a.constraints, c)
	}
	if len(a.grid) == 0 {
		return nil, fmt.Errorf("adaptive search of scenario %s: the grid is empty", s.Name)
	}
	if cat := results.CategoricalFields(a.grid); len(cat) > 0 {
		return nil, fmt.Errorf("adaptive search of scenario %s: dimensions.model_config sets %s to names, not numbers: no surface spans them, so the search cannot move along them (use search.strategy grid, or one scenario per value)", s.Name, strings.Join(cat, ", "))
	}
	// Evaluate checks GPU prices only once it sees a GPU point; probing
	// with one failed record reports a missing price now, not mid-sweep.
	if i := slices.IndexFunc(a.grid, func(p results.Point) bool { return p.GPUs > 0 }); i >= 0 {
		probe := results.Record{Kind: results.KindPoint, Point: a.grid[i], Status: results.StatusFailed, Reason: "price check"}
		if _, err := cost.Evaluate([]results.Record{probe}, spec); err != nil {
			return nil, fmt.Errorf("adaptive search of scenario %s: cost.prices: %w", s.Name, err)
		}
	}
	a.dims = s.Varied()
	for _, d := range a.dims {
		xs, err := s.DimensionValues(d)
		if err != nil {
			return nil, fmt.Errorf("adaptive search of scenario %s: %w", s.Name, err)
		}
		xs = slices.Clone(xs)
		sort.Float64s(xs)
		a.axes = append(a.axes, xs)
	}
	n := len(a.grid)
	designSize := min(2*len(a.dims)+1, n)
	a.budget = s.Search.BudgetPoints
	if a.budget == 0 {
		a.budget = max(int(math.Ceil(DefaultBudgetFraction*float64(n)-1e-9)), designSize)
	}
	a.budget = min(a.budget, n)
	a.design = a.spaceFilling(min(designSize, a.budget))
	a.budgetTime = s.Search.BudgetTime.D()
	a.minImprove = s.Search.MinImprovement
	if a.minImprove == 0 {
		a.minImprove = DefaultMinImprovement
	}
	// rate is the requests in flight per client only in closed loop
	// without sequences or a data budget; elsewhere it is a sampling or
	// arrival rate, whose throughput need not saturate.
	w := s.Workload
	rateIsLoad := w.Mode == workload.ModeClosed && !w.Sequence && w.DataSeconds == 0
	for _, d := range a.dims {
		if d == "clients" || d == "rate" && rateIsLoad {
			a.monotone = append(a.monotone, d)
		}
	}
	return a, nil
}

// Choose returns the strategy a scenario's search.strategy names: the
// full grid (also when unset) or the adaptive search.
func Choose(s *scenarios.Scenario) (Strategy, error) {
	if s == nil {
		return nil, errors.New("choose strategy: no scenario")
	}
	switch s.Search.Strategy {
	case scenarios.StrategyGrid, "":
		return NewGrid(s), nil
	case scenarios.StrategyAdaptive:
		return NewAdaptive(s)
	}
	return nil, fmt.Errorf("scenario %s: search.strategy %q is unknown (want %s or %s)", s.Name, s.Search.Strategy, scenarios.StrategyGrid, scenarios.StrategyAdaptive)
}

// Name is "adaptive".
func (a *Adaptive) Name() string { return scenarios.StrategyAdaptive }

// Size is the point budget: the most points the search measures.
func (a *Adaptive) Size() int { return a.budget }

// Next returns the next point to measure given every point record
// measured so far, or ok=false and why the search stopped.
func (a *Adaptive) Next(measured []results.Record) (results.Point, string, bool) {
	var recs []results.Record
	seen := map[string]results.Point{}
	var order []string
	trialsOf := map[string]map[int]bool{}
	var spent time.Duration
	for _, r := range measured {
		if r.Kind != results.KindPoint {
			continue
		}
		recs = append(recs, r)
		k := r.Point.Key()
		if _, ok := seen[k]; !ok {
			seen[k] = r.Point
			order = append(order, k)
			trialsOf[k] = map[int]bool{}
		}
		trialsOf[k][r.Trial] = true
		if !r.Started.IsZero() && r.Finished.After(r.Started) {
			spent += r.Finished.Sub(r.Started)
		}
	}
	for _, k := range order {
		for t := 0; t < a.trials; t++ {
			if !trialsOf[k][t] {
				return seen[k], "", true // cut short: finish its trials
			}
		}
	}
	if len(seen) >= a.budget {
		return results.Point{}, fmt.Sprintf("budget of %d points spent", a.budget), false
	}
	if a.budgetTime > 0 && spent >= a.budgetTime {
		return results.Point{}, fmt.Sprintf("budget of time %s spent (%s measured)", a.budgetTime, spent.Round(time.Millisecond)), false
	}
	for _, p := range a.design {
		if _, ok := seen[p.Key()]; !ok {
			return p, "", true
		}
	}
	evals, err := cost.Evaluate(recs, a.spec)
	if err != nil {
		return results.Point{}, fmt.Sprintf("adaptive search cannot evaluate the results: %v", err), false
	}
	skip, skipWhy := a.saturated(evals, seen)
	var cands []results.Point
	for _, p := range a.grid {
		k := p.Key()
		if _, ok := seen[k]; !ok && !skip[k] {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		why := fmt.Sprintf("grid exhausted: %d of %d points measured", len(seen), len(a.grid))
		if len(skip) > 0 {
			why += fmt.Sprintf(", %d skipped (%s)", len(skip), skipWhy)
		}
		return results.Point{}, why, false
	}
	var usable []results.Point
	for _, ev := range evals {
		if ev.Status != results.StatusFailed {
			usable = append(usable, ev.Point)
		}
	}
	if len(usable) == 0 {
		// Nothing to fit yet: keep filling space, away from the failures.
		var failed []results.Point
		for _, k := range order {
			failed = append(failed, seen[k])
		}
		return a.farthestFrom(cands, failed), "", true
	}
	cs, err := cost.NewSurface(evals, a.dims, a.spec)
	if err != nil {
		return results.Point{}, fmt.Sprintf("adaptive search cannot fit the cost surface: %v", err), false
	}
	best, bestAt := math.Inf(1), results.Point{}
	for _, ev := range evals {
		if ev.Feasible && ev.Status != results.StatusFailed && ev.Cost < best {
			best, bestAt = ev.Cost, ev.Point
		}
	}
	sc := a.newScorer(cs, evals, usable)
	type scored struct {
		p          results.Point
		mu, pf, ei float64
	}
	var top *scored
	for _, p := range cands {
		pr := sc.predict(p)
		s := scored{p: p, mu: pr.mu, pf: pr.pf, ei: expectedImprovement(best, pr)}
		if math.IsInf(best, 1) {
			s.ei = pr.pf // nothing feasible yet: find something feasible first
		}
		if top == nil || s.ei > top.ei || s.ei == top.ei && s.mu < top.mu {
			top = &s
		}
	}
	if math.IsInf(best, 1) {
		if top.pf < minFeasibility {
			return results.Point{}, fmt.Sprintf("no measured point is feasible and no unmeasured one is likely to be (best probability %s%%)", pctText(top.pf)), false
		}
		return top.p, "", true
	}
	scale := math.Abs(best)
	if scale == 0 {
		scale = 1 // a free best point: read MinImprovement as absolute
	}
	if top.ei < a.minImprove*scale {
		return results.Point{}, fmt.Sprintf("expected improvement %s%% < %s%% of the best cost %s (%s)",
			pctText(top.ei/scale), pctText(a.minImprove), strconv.FormatFloat(best, 'g', 4, 64), pointText(bestAt, a.dims)), false
	}
	return top.p, "", true
}

// expectedImprovement is E[max(best − cost, 0)] · PF under the
// prediction: log-normal for an objective of one figure (a cost of one
// sign), normal for a weighted one or when best and mu differ in sign.
func expectedImprovement(best float64, pr prediction) float64 {
	mu := pr.mu
	if math.IsInf(best, 0) || math.IsNaN(mu) || math.IsInf(mu, 0) || pr.pf <= 0 {
		return 0
	}
	sd := pr.sd
	if !pr.weighted {
		s := pr.logSD
		switch {
		case !(s > 0) || math.IsInf(s, 0):
			return pr.pf * math.Max(best-mu, 0)
		case best > 0 && mu > 0:
			// cost = mu·e^(sX): E[(best − cost)⁺] = best·Φ(z) − mu·e^(s²/2)·Φ(z − s)
			z := math.Log(best/mu) / s
			return pr.pf * math.Max(best*normCDF(z)-mu*math.Exp(s*s/2)*normCDF(z-s), 0)
		case best < 0 && mu < 0:
			// a maximised figure F = |mu|·e^(sX), cost −F: E[(F − |best|)⁺]
			z := math.Log(best/mu) / s
			return pr.pf * math.Max(-mu*math.Exp(s*s/2)*normCDF(s-z)+best*normCDF(-z), 0)
		}
		sd = math.Abs(mu) * s
	}
	if !(sd > 0) || math.IsInf(sd, 0) {
		return pr.pf * math.Max(best-mu, 0)
	}
	z := (best - mu) / sd
	return pr.pf * math.Max((best-mu)*normCDF(z)+sd*normPDF(z), 0)
}

// distanceFactor scales the leave-one-out error, observed at the typical
// spacing of the measured points, to a point at r times that spacing.
// The square root (rather than r) keeps points next to a measured one
// from looking certain: the fit's error there is not much smaller than
// at the typical spacing when the surface has a kink, as throughput does
// where it saturates.
func distanceFactor(r float64) float64 { return math.Sqrt(r) }

func normCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }
func normPDF(z float64) float64 { return math.Exp(-z*z/2) / math.Sqrt(2*math.Pi) }

// pct writes a fraction as a percentage with two significant digits.
func pctText(f float64) string { return strconv.FormatFloat(100*f, 'g', 2, 64) }

// pointText names p by dims, e.g. "instances=2,clients=8".
func pointText(p results.Point, dims []string) string {
	if len(dims) == 0 {
		return p.Key()
	}
	parts := make([]string, len(dims))
	for i, d := range dims {
		v, _ := p.Coord(d)
		parts[i] = d + "=" + strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// scorer predicts cost, its uncertainty and the probability of
// feasibility at grid points from one fitted cost surface.
type scorer struct {
	a      *Adaptive
	cs     *cost.Surface
	fitted [][]float64 // normalised coordinates of the usable measured points
	spread float64     // δ̄: mean distance from a measured point to its nearest neighbour
	norm   map[string]float64
}

func (a *Adaptive) newScorer(cs *cost.Surface, evals []cost.Evaluated, usable []results.Point) *scorer {
	sc := &scorer{a: a, cs: cs}
	keys := map[string]bool{}
	for _, p := range usable {
		if !keys[p.Key()] {
			keys[p.Key()] = true
			sc.fitted = append(sc.fitted, a.position(p))
		}
	}
	var sum float64
	var n int
	for i, u := range sc.fitted {
		nearest := math.Inf(1)
		for j, v := range sc.fitted {
			if i != j {
				nearest = math.Min(nearest, stats.Distance(u, v))
			}
		}
		if !math.IsInf(nearest, 1) {
			sum += nearest
			n++
		}
	}
	sc.spread = 1
	if n > 0 && sum > 0 {
		sc.spread = sum / float64(n)
	}
	if a.objective == "weighted" {
		sc.norm = weightNorms(evals, a.spec.Weights)
	}
	return sc
}

// weightNorms are the normalisers cost.Evaluate divides weighted figures
// by: the median |figure| over the non-failed points (1 when zero or
// unknown). The search needs them to split a weighted cost into terms.
func weightNorms(evals []cost.Evaluated, weights map[string]float64) map[string]float64 {
	norm := map[string]float64{}
	for f := range weights {
		var vs []float64
		for _, ev := range evals {
			if ev.Status == results.StatusFailed {
				continue
			}
			if v, ok := ev.Figures[f]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, math.Abs(v))
			}
		}
		m := 1.0
		if len(vs) > 0 {
			sort.Float64s(vs)
			m = vs[len(vs)/2]
			if len(vs)%2 == 0 {
				m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
			}
		}
		if m == 0 || math.IsNaN(m) {
			m = 1
		}
		norm[f] = m
	}
	return norm
}

// prediction is the search's belief about an unmeasured point.
type prediction struct {
	mu float64 // predicted cost
	// logSD is the standard deviation of ln|cost| (objectives of one
	// figure); sd that of the cost itself (weighted objectives).
	logSD, sd float64
	weighted  bool
	pf        float64 // probability of feasibility
}

// predict returns the prediction at p (see Adaptive).
func (sc *scorer) predict(p results.Point) prediction {
	pp := sc.cs.At(p)
	near := math.Inf(1)
	u := sc.a.position(p)
	for _, v := range sc.fitted {
		near = math.Min(near, stats.Distance(u, v))
	}
	g := distanceFactor(near / sc.spread)
	pr := prediction{mu: pp.Cost, pf: 1}
	if sc.a.objective == "weighted" {
		var v2 float64
		for f, w := range sc.a.spec.Weights {
			term := w * pp.Figures[f] / sc.norm[f] * sc.relErr(f)
			v2 += term * term
		}
		pr.weighted, pr.sd = true, math.Sqrt(v2)*g
	} else {
		pr.logSD = sc.relErr(sc.a.objective) * g
	}
	for _, c := range sc.a.constraints {
		v, ok := pp.Figures[c.Figure]
		if !ok || math.IsNaN(v) {
			pr.pf = 0
			break
		}
		pr.pf *= meetProbability(c, v, sc.relErr(c.Figure)*g)
	}
	return pr
}

// meetProbability is the chance that a figure predicted as v, with
// relative error e, meets c.
func meetProbability(c cost.Constraint, v, e float64) float64 {
	if !(e > 0) || math.IsInf(v, 0) {
		if c.Met(v) {
			return 1
		}
		return 0
	}
	var z float64
	if v > 0 && c.Value > 0 {
		z = math.Log(c.Value/v) / e // log-normal around v
	} else {
		sd := e * math.Max(math.Abs(v), math.Abs(c.Value))
		if sd == 0 {
			if c.Met(v) {
				return 1
			}
			return 0
		}
		z = (c.Value - v) / sd
	}
	if c.Op == ">=" || c.Op == ">" {
		z = -z
	}
	return normCDF(z)
}

// relErr is the relative leave-one-out error of what figure f is
// computed from: expense figures are exact functions of the point's size
// and of fitted throughput or data rate.
func (sc *scorer) relErr(f string) float64 {
	pr := sc.a.spec.Prices
	perInference := pr.PerMillionRequests > 0 || pr.EgressPerGB > 0 && pr.EgressBytesPerInference > 0
	switch f {
	case "usd_per_hour":
		return 0
	case "usd_per_million":
		e := sc.loo("throughput")
		if pr.PerMillionRequests > 0 {
			e = math.Max(e, sc.loo("throughput_rps"))
		}
		return e
	case "usd_per_data_hour":
		e := sc.loo("data_rate")
		if perInference {
			e = math.Max(e, sc.loo("throughput"))
		}
		return e
	}
	return sc.loo(f)
}

func (sc *scorer) loo(f string) float64 {
	s := sc.cs.Figure(f)
	if s == nil {
		return 1
	}
	e := s.LOO()
	if math.IsNaN(e) {
		return 1 // one point: nothing is known about the fit's error
	}
	// A few lucky residuals must not end the search before the fit has
	// been tested: use an upper bound of the error (see looConfidence).
	return math.Min(e*(1+looConfidence/math.Sqrt(float64(s.N()))), maxRelErr)
}

// saturated returns the unmeasured grid points (keys) not worth measuring
// because the load along a monotone dimension has saturated at their
// other coordinates (see Adaptive), and a note saying how many where.
func (a *Adaptive) saturated(evals []cost.Evaluated, measured map[string]results.Point) (map[string]bool, string) {
	skip := map[string]bool{}
	var notes []string
	for _, m := range a.monotone {
		lines := map[string][]cost.Evaluated{}
		for _, ev := range evals {
			if ev.Status != results.StatusFailed {
				k := withCoord(ev.Point, m, 0).Key()
				lines[k] = append(lines[k], ev)
			}
		}
		cut := map[string]float64{}
		for k, evs := range lines {
			sort.Slice(evs, func(i, j int) bool {
				x, _ := evs[i].Point.Coord(m)
				y, _ := evs[j].Point.Coord(m)
				return x < y
			})
			for i := 1; i < len(evs); i++ {
				ta, okTa := evs[i-1].Figures["throughput"]
				tb, okTb := evs[i].Figures["throughput"]
				pa, okPa := evs[i-1].Figures["p99"]
				pb, okPb := evs[i].Figures["p99"]
				ma, _ := evs[i-1].Point.Coord(m)
				mb, _ := evs[i].Point.Coord(m)
				if !okTa || !okTb || !okPa || !okPb || !(ta > 0) || !(ma > 0) {
					continue
				}
				if tb < ta*(1+saturationGain*(mb/ma-1)) && pb >= pa {
					cut[k] = mb
					break
				}
			}
		}
		n := 0
		for _, p := range a.grid {
			c, ok := cut[withCoord(p, m, 0).Key()]
			_, done := measured[p.Key()]
			if v, _ := p.Coord(m); ok && v > c && !done {
				if !skip[p.Key()] {
					n++
				}
				skip[p.Key()] = true
			}
		}
		if n > 0 {
			notes = append(notes, fmt.Sprintf("%d beyond saturation along %s", n, m))
		}
	}
	return skip, strings.Join(notes, ", ")
}

// withCoord returns p with dimension dim set to v.
func withCoord(p results.Point, dim string, v float64) results.Point {
	switch dim {
	case "gpus":
		p.GPUs = int(v)
	case "instances":
		p.Instances = int(v)
	case "clients":
		p.Clients = int(v)
	case "rate":
		p.Rate = v
	case "batch_size":
		p.BatchSize = int(v)
	case "servers":
		p.Servers = int(v)
	}
	return p
}

// position maps p into grid-index space: along each varied dimension the
// k-th of n sorted values is at k/(n-1), values between grid values
// interpolated, values outside extrapolated.
func (a *Adaptive) position(p results.Point) []float64 {
	u := make([]float64, len(a.dims))
	for j, d := range a.dims {
		x, _ := p.Coord(d)
		xs := a.axes[j]
		n := len(xs)
		i := sort.SearchFloat64s(xs, x)
		var k float64
		switch {
		case i < n && xs[i] == x:
			k = float64(i)
		case i == 0:
			k = -(xs[0] - x) / (xs[1] - xs[0])
		case i == n:
			k = float64(n-1) + (x-xs[n-1])/(xs[n-1]-xs[n-2])
		default:
			k = float64(i-1) + (x-xs[i-1])/(xs[i]-xs[i-1])
		}
		u[j] = k / float64(n-1)
	}
	return u
}

// spaceFilling picks n grid points: the one nearest the centre, then
// greedy maximin picks (ties: grid order).
func (a *Adaptive) spaceFilling(n int) []results.Point {
	pos := make([][]float64, len(a.grid))
	for i, p := range a.grid {
		pos[i] = a.position(p)
	}
	minD := make([]float64, len(a.grid))
	for i := range minD {
		minD[i] = math.Inf(1)
	}
	var out []results.Point
	take := func(u []float64) {
		for i := range pos {
			minD[i] = math.Min(minD[i], stats.Distance(pos[i], u))
		}
	}
	if n > 0 {
		centre := make([]float64, len(a.dims))
		for j := range centre {
			centre[j] = 0.5
		}
		bi, bd := 0, math.Inf(1)
		for i := range pos {
			if d := stats.Distance(pos[i], centre); d < bd-1e-12 {
				bi, bd = i, d
			}
		}
		out = append(out, a.grid[bi])
		take(pos[bi])
	}
	for len(out) < n {
		bi, bd := -1, 0.0
		for i := range pos {
			if minD[i] > bd+1e-12 {
				bi, bd = i, minD[i]
			}
		}
		if bi < 0 {
			break // every grid point is picked
		}
		out = append(out, a.grid[bi])
		take(pos[bi])
	}
	return out
}

// farthestFrom returns the candidate farthest from every point in from
// (ties: candidate order).
func (a *Adaptive) farthestFrom(cands, from []results.Point) results.Point {
	var us [][]float64
	for _, p := range from {
		us = append(us, a.position(p))
	}
	bi, bd := 0, -1.0
	for i, p := range cands {
		u := a.position(p)
		d := math.Inf(1)
		for _, v := range us {
			d = math.Min(d, stats.Distance(u, v))
		}
		if d > bd+1e-12 {
			bi, bd = i, d
		}
	}
	return cands[bi]
}
