package plots

import (
	"fmt"
	"math"

	"github.com/iaasbench/iaasbench/cost"
)

// evaluateCost applies the spec to the records and picks the operating
// point. A spec that cannot be evaluated leaves the cost figures as
// placeholders that say why; the other figures do not need it.
func (r *reportCtx) evaluateCost() {
	evs, err := cost.Evaluate(r.recs, r.spec)
	if err != nil {
		r.costErr = fmt.Errorf("cost could not be evaluated: %w", err)
		r.notes = append(r.notes, r.costErr.Error())
		r.opWhy = "no operating point: " + r.costErr.Error()
		return
	}
	byKey := map[string]*pointData{}
	for _, p := range r.sw.Points {
		byKey[p.Key] = p
	}
	var best *pointData
	for _, ev := range evs {
		p := byKey[ev.Point.Key()]
		if p == nil {
			continue
		}
		p.CostKnown = true
		p.USDHour = ev.Expense.USDPerHour
		p.USDMillion = ev.Expense.USDPerMillion
		p.Cost = ev.Cost
		p.Feasible = ev.Feasible
		p.Violations = ev.Violations
		if p.ok() {
			// The table shows the figures the cost function judged.
			if v, ok := ev.Figures["throughput"]; ok {
				p.Throughput = v
			}
			if v, ok := ev.Figures["p50"]; ok {
				p.P50MS = v
			}
			if v, ok := ev.Figures["p99"]; ok {
				p.P99MS = v
			}
		}
		if ev.Feasible && !math.IsInf(ev.Cost, 0) && (best == nil || ev.Cost < best.Cost) {
			best = p
		}
	}
	r.operating = best
	if best == nil {
		r.opWhy = "no measured point meets every constraint"
	} else {
		r.opWhy = fmt.Sprintf("lowest %s among feasible points", r.objective)
	}
}

func drawCostSurface(r *reportCtx, path string) (Figure, error) {
	return r.placeholderFigure(path, "Cost surface", "cost surface", "not drawn yet")
}

func drawIsoCost(r *reportCtx, path string) (Figure, error) {
	return r.placeholderFigure(path, "Iso-cost lines", "iso-cost lines", "not drawn yet")
}

func drawPareto(r *reportCtx, path string) (Figure, error) {
	return r.placeholderFigure(path, "Pareto frontier", "Pareto frontier", "not drawn yet")
}
