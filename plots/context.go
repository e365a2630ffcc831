package plots

import (
	"fmt"
	"math"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// reportCtx is what every figure of one report shares.
type reportCtx struct {
	recs []results.Record
	sw   *sweep
	spec cost.Spec
	opts Options

	objective   string
	constraints []cost.Constraint
	// costErr says why cost figures cannot be drawn (bad spec, no prices);
	// nil when Evaluate succeeded.
	costErr   error
	evals     []cost.Evaluated
	operating *pointData
	// opWhy explains the operating point, or why there is none.
	opWhy string
	// fit is the quality of each fitted surface (over fitDims); fitNote
	// says why none was fitted.
	fit     []cost.FitQuality
	fitDims []string
	fitNote string
	notes   []string
}

func newReportCtx(recs []results.Record, spec cost.Spec, opts Options) *reportCtx {
	r := &reportCtx{recs: recs, sw: newSweep(recs), spec: spec, opts: opts}
	r.objective = spec.ObjectiveName() // canonical: Model Analyzer's names translated
	for _, text := range spec.Constraints {
		c, err := cost.ParseConstraint(text)
		if err != nil {
			r.notes = append(r.notes, fmt.Sprintf("constraint ignored in figures: %v", err))
			continue
		}
		r.constraints = append(r.constraints, c)
	}
	r.evaluateCost()
	return r
}

// limit returns the bound a constraint puts on a figure, if any.
func (r *reportCtx) limit(figure string) (cost.Constraint, bool) {
	for _, c := range r.constraints {
		if c.Figure == figure {
			return c, true
		}
	}
	return cost.Constraint{}, false
}

// finiteOr0 keeps NaN and ±Inf out of the summary, which callers may
// encode as JSON.
func finiteOr0(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// rows is the summary table.
func (r *reportCtx) rows() []Row {
	var out []Row
	for _, p := range r.sw.Points {
		row := Row{
			Point: p.Point, Label: p.Label, Status: p.Status, Reason: p.Reason,
			Feasible: p.Feasible, Violations: p.Violations, Operating: p == r.operating,
		}
		if p.ok() {
			row.Throughput, row.P50MS, row.P99MS = finiteOr0(p.Throughput), finiteOr0(p.P50MS), finiteOr0(p.P99MS)
		}
		// Expense is known for points that ran; a failed point's is not
		// meaningful (it served nothing).
		if p.CostKnown && p.ok() {
			row.CostKnown = true
			row.USDHour, row.USDMillion = finiteOr0(p.USDHour), finiteOr0(p.USDMillion)
		}
		out = append(out, row)
	}
	return out
}
