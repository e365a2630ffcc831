package cost

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// OperatingPoint is the outcome of a sweep: where to run.
type OperatingPoint struct {
	// Best is the best feasible measured point (lowest Cost; complete
	// measurements rank ahead of incomplete ones), nil if none is feasible.
	Best *Evaluated `json:"best,omitempty"`
	// Reason says how Best was chosen, or why there is none.
	Reason string `json:"reason"`
	// Predicted is the best feasible point of the grid that was not
	// measured, by the cost surface: a prediction to confirm, possibly an
	// extrapolation (see its Extrapolated and Why). Nil without a grid,
	// without a fit, or when no unmeasured grid point is predicted feasible.
	Predicted *PredictedPoint `json:"predicted,omitempty"`
	// Suggestion says what to measure to confirm Predicted.
	Suggestion string `json:"suggestion,omitempty"`
	// Frontier is the Pareto frontier of p99 against usd_per_hour among the
	// points that meet the throughput and data-rate constraints.
	Frontier []Evaluated `json:"frontier,omitempty"`
	// Dims are the dimensions the cost surface was fitted over.
	Dims []string `json:"dims,omitempty"`
	// Fit is the leave-one-out error of each fitted figure (FigureSurface.LOO).
	Fit map[string]float64 `json:"fit,omitempty"`
	// Quality describes each fitted figure's surface (method, points,
	// leave-one-out error); FitNote says why there is none, if so.
	Quality []FitQuality `json:"quality,omitempty"`
	FitNote string       `json:"fit_note,omitempty"`
}

// MeasuredGrid returns the distinct points of recs (point records; a
// header is skipped) in the order first seen: the grid a sweep measured,
// each point once however many trials it had, for Choose.
func MeasuredGrid(recs []results.Record) []results.Point {
	var grid []results.Point
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Kind == results.KindHeader || seen[r.Point.Key()] {
			continue
		}
		seen[r.Point.Key()] = true
		grid = append(grid, r.Point)
	}
	return grid
}

// Choose picks the operating point: the best feasible measured point, the
// best feasible unmeasured point of grid predicted by a Surface over
// the varied dimensions, and the latency/expense frontier. It is an error
// only when spec is invalid.
func Choose(evals []Evaluated, grid []results.Point, spec Spec) (OperatingPoint, error) {
	pl, err := spec.plan()
	if err != nil {
		return OperatingPoint{}, err
	}
	var op OperatingPoint
	usable, feasible := 0, 0
	for i := range evals {
		ev := &evals[i]
		if ev.Status != results.StatusFailed {
			usable++
		}
		if !ev.Feasible {
			continue
		}
		feasible++
		if op.Best == nil || betterMeasured(ev, op.Best) {
			op.Best = ev
		}
	}
	switch {
	case len(evals) == 0:
		op.Reason = "no measured points"
	case usable == 0:
		op.Reason = fmt.Sprintf("all %d measured points failed", len(evals))
	case op.Best == nil:
		op.Reason = "no measured point meets the constraints; " + closest(evals)
	default:
		best := "lowest"
		if pl.objective != "weighted" && figureTable[pl.objective].higherBetter {
			best = "highest"
		}
		op.Reason = fmt.Sprintf("%s %s among %d feasible of %d measured points", best, pl.objectiveName(), feasible, len(evals))
	}
	if op.Best != nil {
		b := *op.Best // a copy, so the result does not alias evals
		op.Best = &b
	}

	var demanded []Evaluated
	for _, ev := range evals {
		if ev.Status != results.StatusFailed && meetsDemand(pl, ev.Figures) {
			demanded = append(demanded, ev)
		}
	}
	op.Frontier = Pareto(demanded, "p99", "usd_per_hour")

	if usable == 0 {
		return op, nil
	}
	if len(results.CategoricalFields(usablePoints(evals))) > 0 {
		// Points that differ by name (instance kind) are compared as
		// measured; no surface spans them.
		_, err := NewSurface(evals, nil, spec)
		op.FitNote = err.Error()
		return op, nil
	}
	cs, err := NewSurface(evals, nil, spec)
	if err != nil {
		return op, err
	}
	op.Dims, op.Fit, op.Quality = cs.Dims(), cs.Fit(), cs.Quality()
	measured := map[string]bool{}
	for _, ev := range evals {
		measured[ev.Point.Key()] = true
	}
	for _, g := range grid {
		if measured[g.Key()] {
			continue
		}
		pp := cs.At(g)
		if pp.Feasible && (op.Predicted == nil || betterPredicted(&pp, op.Predicted)) {
			op.Predicted = &pp
		}
	}
	if p := op.Predicted; p != nil {
		op.Suggestion = fmt.Sprintf("measure %s to confirm: predicted %s %s", coordText(p.Point, op.Dims), pl.objectiveName(), formatCost(pl, p.Cost))
		if op.Best != nil {
			op.Suggestion += fmt.Sprintf(" (best measured %s)", formatCost(pl, op.Best.Cost))
		}
		if p.Extrapolated {
			op.Suggestion += "; extrapolated: " + p.Why
		}
	}
	return op, nil
}

func (p plan) objectiveName() string {
	if p.objective == "weighted" {
		return "weighted cost"
	}
	return p.objective
}

// formatCost writes a cost in the objective's units (undoing the sign of
// a maximised figure).
func formatCost(p plan, c float64) string {
	if p.objective == "weighted" {
		return formatNumber(c)
	}
	if figureTable[p.objective].higherBetter {
		c = -c
	}
	return formatFigure(p.objective, c)
}

// coordText names p by the given dimensions, e.g. "gpus=2,instances=4".
func coordText(p results.Point, dims []string) string {
	if len(dims) == 0 {
		return p.Key()
	}
	parts := make([]string, len(dims))
	for i, d := range dims {
		v, _ := p.Coord(d)
		parts[i] = d + "=" + formatNumber(v)
	}
	return strings.Join(parts, ",")
}

// betterMeasured orders feasible measured points: complete before
// incomplete, then lower cost, smaller deployment, then key for a stable
// choice.
func betterMeasured(a, b *Evaluated) bool {
	if (a.Status == results.StatusOK) != (b.Status == results.StatusOK) {
		return a.Status == results.StatusOK
	}
	if a.Cost != b.Cost {
		return a.Cost < b.Cost
	}
	if a.Expense.USDPerHour != b.Expense.USDPerHour {
		return a.Expense.USDPerHour < b.Expense.USDPerHour
	}
	return a.Point.Key() < b.Point.Key()
}

func betterPredicted(a, b *PredictedPoint) bool {
	if a.Cost != b.Cost {
		return a.Cost < b.Cost
	}
	if a.Extrapolated != b.Extrapolated {
		return !a.Extrapolated
	}
	if ha, hb := a.Figures["usd_per_hour"], b.Figures["usd_per_hour"]; ha != hb {
		return ha < hb
	}
	return a.Point.Key() < b.Point.Key()
}

// closest describes the infeasible point nearest to being chosen: fewest
// violations, then lowest cost.
func closest(evals []Evaluated) string {
	var c *Evaluated
	for i := range evals {
		ev := &evals[i]
		if ev.Status == results.StatusFailed {
			continue
		}
		if c == nil || len(ev.Violations) < len(c.Violations) ||
			len(ev.Violations) == len(c.Violations) && ev.Cost < c.Cost {
			c = ev
		}
	}
	if c == nil {
		return "every point failed"
	}
	return fmt.Sprintf("of those with the fewest violations, the cheapest is %s: %s", c.Point.Key(), strings.Join(c.Violations, ", "))
}

// meetsDemand reports whether figs meet every throughput and data-rate
// constraint.
func meetsDemand(p plan, figs map[string]float64) bool {
	for _, c := range p.constraints {
		if !c.demand() {
			continue
		}
		v, ok := figs[c.Figure]
		if !ok || !c.Met(v) {
			return false
		}
	}
	return true
}

// Pareto returns the points of evals not dominated in (xFigure, yFigure),
// sorted by xFigure from best to worst. Each figure is taken in its better
// direction: lower latency, expense and errors; higher throughput,
// data_rate and utilisation. A point dominates another when it is at
// least as good in both and better in one; points equal in both are all
// kept. Failed points and points lacking either figure are left out.
func Pareto(evals []Evaluated, xFigure, yFigure string) []Evaluated {
	key := func(f string, v float64) float64 {
		if figureTable[f].higherBetter {
			return -v
		}
		return v
	}
	type cand struct {
		ev   Evaluated
		x, y float64
	}
	var cs []cand
	for _, ev := range evals {
		if ev.Status == results.StatusFailed {
			continue
		}
		x, okx := ev.Figures[xFigure]
		y, oky := ev.Figures[yFigure]
		if !okx || !oky || math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		cs = append(cs, cand{ev, key(xFigure, x), key(yFigure, y)})
	}
	var out []cand
	for i, a := range cs {
		dominated := false
		for j, b := range cs {
			if i != j && b.x <= a.x && b.y <= a.y && (b.x < a.x || b.y < a.y) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].x != out[j].x {
			return out[i].x < out[j].x
		}
		return out[i].y < out[j].y
	})
	res := make([]Evaluated, len(out))
	for i, c := range out {
		res[i] = c.ev
	}
	return res
}
