package cost

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/iaasbench/iaasbench/results"
)

// Surface is the talk's cost surface: fitted surfaces for the figures
// the cost function reads, with expense computed analytically from each
// point's size and predicted throughput, so that the full cost and
// feasibility can be evaluated at any point of a sweep's grid. It is
// immutable once built and safe for concurrent use.
type Surface struct {
	dims     []string
	plan     plan
	surfaces map[string]*FigureSurface
	fixed    map[string][]float64 // measured values of the dimensions not in dims
	norm     map[string]float64
}

// PredictedPoint is the cost function evaluated on fitted surfaces: a
// prediction, not a measurement.
type PredictedPoint struct {
	Point results.Point `json:"point"`
	// Figures holds the predicted figures (see FigureNames); one no surface
	// could predict is absent.
	Figures    map[string]float64 `json:"figures"`
	Cost       float64            `json:"cost"`
	Feasible   bool               `json:"feasible"`
	Violations []string           `json:"violations,omitempty"`
	// Extrapolated is true when the point is outside what was measured;
	// Why says along which dimension.
	Extrapolated bool   `json:"extrapolated"`
	Why          string `json:"why,omitempty"`
}

// VariedDims returns the dimensions that take more than one value among
// the non-failed points of evals: results.Dimensions in their order, then
// the numeric model-config fields (results.ConfigDimensions).
func VariedDims(evals []Evaluated) []string {
	var out []string
	for _, d := range results.DimensionsOf(usablePoints(evals)) {
		seen := map[float64]bool{}
		for _, ev := range evals {
			if ev.Status != results.StatusFailed {
				v, _ := ev.Point.Coord(d)
				seen[v] = true
			}
		}
		if len(seen) > 1 {
			out = append(out, d)
		}
	}
	return out
}

// NewSurface fits, over dims, every figure spec's constraints and
// objective read (plus throughput, which expense needs, and p99), from the
// non-failed points of evals. Nil dims means VariedDims(evals); dims
// should include every dimension the points vary along, or the fit mixes
// configurations. A figure no point has is left unfitted, and points then
// fail constraints on it as "not measured", as in Evaluate. It is an error
// when spec is invalid or no point is usable.
func NewSurface(evals []Evaluated, dims []string, spec Spec) (*Surface, error) {
	pl, err := spec.plan()
	if err != nil {
		return nil, err
	}
	var usable []Evaluated
	var sets []map[string]float64
	for _, ev := range evals {
		if ev.Status != results.StatusFailed {
			usable = append(usable, ev)
			sets = append(sets, ev.Figures)
		}
	}
	if len(usable) == 0 {
		return nil, errors.New("cost surface: no measured point to fit (all failed or none)")
	}
	if dims == nil {
		dims = VariedDims(usable)
	}
	if err := checkDims(usable, dims); err != nil {
		return nil, fmt.Errorf("cost surface: %w", err)
	}
	if cat := results.CategoricalFields(usablePoints(usable)); len(cat) > 0 {
		return nil, fmt.Errorf("cost surface: the points differ in %s, whose values are names, not numbers: a surface cannot be fitted across them (compare the measured points, or sweep one value per scenario)", strings.Join(cat, ", "))
	}
	cs := &Surface{
		dims: append([]string(nil), dims...), plan: pl,
		surfaces: map[string]*FigureSurface{}, fixed: map[string][]float64{},
		norm: pl.normalisers(sets),
	}
	for _, f := range cs.needed() {
		if !slices.ContainsFunc(usable, func(ev Evaluated) bool { return finite(ev.Figures, f) }) {
			continue
		}
		s, err := FitFigure(usable, cs.dims, f)
		if err != nil {
			return nil, fmt.Errorf("cost surface: %w", err)
		}
		cs.surfaces[f] = s
	}
	for _, d := range results.DimensionsOf(usablePoints(usable)) {
		if slices.Contains(cs.dims, d) {
			continue
		}
		var vs []float64
		for _, ev := range usable {
			v, _ := ev.Point.Coord(d)
			if !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		sort.Float64s(vs)
		cs.fixed[d] = vs
	}
	return cs, nil
}

// needed lists the figures to fit, sorted.
func (cs *Surface) needed() []string {
	set := map[string]bool{"throughput": true, "p99": true}
	add := func(f string) {
		switch f {
		case "usd_per_hour":
		case "usd_per_million":
			if cs.plan.prices.PerMillionRequests > 0 {
				set["throughput_rps"] = true
			}
		case "usd_per_data_hour":
			set["data_rate"] = true
			if cs.plan.prices.PerMillionRequests > 0 {
				set["throughput_rps"] = true
			}
		default:
			set[f] = true
		}
	}
	for _, c := range cs.plan.constraints {
		add(c.Figure)
	}
	for _, f := range cs.plan.objectiveFigures() {
		add(f)
	}
	out := make([]string, 0, len(set))
	for f := range set {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Dims are the surface's dimensions.
func (cs *Surface) Dims() []string { return append([]string(nil), cs.dims...) }

// Figure returns the fitted surface of a figure, or nil if it was not
// fitted (not needed, or no point has it).
func (cs *Surface) Figure(figure string) *FigureSurface { return cs.surfaces[figure] }

// Fit returns each fitted figure's leave-one-out error (FigureSurface.LOO).
func (cs *Surface) Fit() map[string]float64 {
	out := make(map[string]float64, len(cs.surfaces))
	for f, s := range cs.surfaces {
		out[f] = s.LOO()
	}
	return out
}

// FitQuality describes how well one figure's surface fits: what was
// fitted over how many distinct points, and its leave-one-out error
// (FigureSurface.LOO): for a figure fitted in log space the RMS of the
// relative errors (0.1 = typically 10% off), else the RMS error over the
// RMS value. NaN with fewer than two points.
type FitQuality struct {
	Figure string  `json:"figure"`
	Method string  `json:"method"`
	N      int     `json:"n"`
	LOO    float64 `json:"loo"`
}

// Quality returns the fit quality of every fitted figure, by name.
func (cs *Surface) Quality() []FitQuality {
	var out []FitQuality
	for _, f := range slices.Sorted(maps.Keys(cs.surfaces)) {
		s := cs.surfaces[f]
		out = append(out, FitQuality{Figure: f, Method: s.Method(), N: s.N(), LOO: s.LOO()})
	}
	return out
}

// At predicts p's figures, expense, cost and feasibility. Figures are
// clamped at zero (no figure is negative). Expense uses p's own GPUs and
// servers. The point is Extrapolated when it lies outside the measured
// range of a surface dimension, or takes a value never measured along a
// dimension the surface does not span.
func (cs *Surface) At(p results.Point) PredictedPoint {
	pp := PredictedPoint{Point: p, Figures: map[string]float64{}}
	var why []string
	note := func(s string) {
		if s != "" && !slices.Contains(why, s) {
			why = append(why, s)
		}
	}
	for _, d := range slices.Sorted(maps.Keys(cs.fixed)) {
		vs := cs.fixed[d]
		v, err := p.Coord(d)
		if err != nil {
			note(fmt.Sprintf("%s is not set", d))
			continue
		}
		if !slices.Contains(vs, v) {
			m := make([]string, len(vs))
			for i, x := range vs {
				m[i] = formatNumber(x)
			}
			note(fmt.Sprintf("%s=%s was not measured (measured: %s)", d, formatNumber(v), strings.Join(m, ", ")))
		}
	}
	coords := coordsOf(p, cs.dims)
	names := make([]string, 0, len(cs.surfaces))
	for f := range cs.surfaces {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		s := cs.surfaces[f]
		v, in := s.Predict(coords)
		if !in {
			note(s.outside(coords))
		}
		if !math.IsNaN(v) {
			pp.Figures[f] = math.Max(v, 0)
		}
	}
	ips, haveIPS := pp.Figures["throughput"]
	rps := pp.Figures["throughput_rps"]
	dataRate := pp.Figures["data_rate"]
	e := expenseAt(p, ips, rps, dataRate, cs.plan.prices)
	pp.Figures["usd_per_hour"] = e.USDPerHour
	if haveIPS {
		pp.Figures["usd_per_million"] = e.USDPerMillion
	}
	if haveIPS && dataRate > 0 {
		pp.Figures["usd_per_data_hour"] = e.USDPerDataHour
	}
	pp.Cost, pp.Feasible, pp.Violations = cs.plan.judge(pp.Figures, cs.norm)
	pp.Extrapolated = len(why) > 0
	pp.Why = strings.Join(why, "; ")
	return pp
}

// usablePoints returns the points of the non-failed evaluations.
func usablePoints(evals []Evaluated) []results.Point {
	var out []results.Point
	for _, ev := range evals {
		if ev.Status != results.StatusFailed {
			out = append(out, ev.Point)
		}
	}
	return out
}

// finite reports whether figs has a finite value of figure f.
func finite(figs map[string]float64, f string) bool {
	v, ok := figs[f]
	return ok && !math.IsNaN(v) && !math.IsInf(v, 0)
}
