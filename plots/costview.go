package plots

import (
	"fmt"
	"slices"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
)

// evaluateCost applies the spec to the records and picks the operating
// point with cost.Choose. A spec that cannot be evaluated leaves the cost
// figures as placeholders that say why; the other figures do not need it.
func (r *reportCtx) evaluateCost() {
	evs, err := cost.Evaluate(r.recs, r.spec)
	if err != nil {
		r.costErr = fmt.Errorf("cost could not be evaluated: %w", err)
		r.notes = append(r.notes, r.costErr.Error())
		r.opWhy = "no operating point: " + r.costErr.Error()
		return
	}
	r.evals = evs
	byKey := map[string]*pointData{}
	for _, p := range r.sw.Points {
		byKey[p.Key] = p
	}
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
			// The figures show what the cost function judged.
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
	}
	op, err := cost.Choose(evs, nil, r.spec)
	if err != nil {
		// The evaluation stands; only the surface behind Choose failed.
		r.notes = append(r.notes, fmt.Sprintf("operating point: %v", err))
	}
	r.opWhy = op.Reason
	r.fit, r.fitDims, r.fitNote = op.Quality, op.Dims, op.FitNote
	if op.Best != nil {
		r.operating = byKey[op.Best.Point.Key()]
	}
}

// objectiveValue turns a cost back into the objective's own value
// (cost.Evaluate negates the figures an objective maximises).
func (r *reportCtx) objectiveValue(c float64) float64 {
	if r.objective != "weighted" && cost.HigherBetter(r.objective) {
		return -c
	}
	return c
}

// formatObjective writes an objective value with its unit.
func (r *reportCtx) formatObjective(v float64) string {
	switch {
	case strings.HasPrefix(r.objective, "usd_"):
		return "$" + formatNumber(v)
	case r.objective == "throughput" || r.objective == "throughput_rps":
		return formatNumber(v) + "/s"
	case r.objective == "gpu_util" || r.objective == "cpu_util" || r.objective == "rejection_rate":
		return formatNumber(v) + "%"
	case slices.Contains([]string{"p50", "p90", "p95", "p99", "p999", "mean", "max"}, r.objective),
		strings.HasPrefix(r.objective, "server_"):
		return formatNumber(v) + " ms"
	case r.objective == "gpu_used_memory" || r.objective == "gpu_free_memory":
		return formatNumber(v) + " MB"
	case r.objective == "gpu_power":
		return formatNumber(v) + " W"
	}
	return formatNumber(v)
}

// objectiveLabel names the objective with its unit for axes.
func (r *reportCtx) objectiveLabel() string {
	switch r.objective {
	case "usd_per_million":
		return "USD per million inferences"
	case "usd_per_hour":
		return "USD per hour"
	case "usd_per_data_hour":
		return "USD per hour of data"
	case "throughput":
		return "throughput (inferences/s, higher is better)"
	case "throughput_rps":
		return "throughput (requests/s, higher is better)"
	case "weighted":
		return "weighted cost (lower is better)"
	case "data_rate":
		return "data rate (s of data per s, higher is better)"
	case "gpu_util", "cpu_util":
		return r.objective + " (%, higher is better)"
	case "errors":
		return "errors"
	case "rejection_rate":
		return "requests rejected for overload (%, lower is better)"
	case "gpu_used_memory":
		return "GPU memory used (MB)"
	case "gpu_free_memory":
		return "GPU memory free (MB, higher is better)"
	case "gpu_power":
		return "GPU power (W)"
	}
	return r.objective + " (ms)"
}

// fitLines describes the fitted surfaces behind the cost figures, one
// line per figure: how far a prediction typically is from a measurement
// (leave-one-out).
func (r *reportCtx) fitLines() []string {
	if len(r.fit) == 0 {
		if r.fitNote != "" {
			return []string{"No surface fitted: " + r.fitNote}
		}
		return nil
	}
	var out []string
	for _, q := range r.fit {
		out = append(out, q.Figure+": "+cost.FitQualityText(q))
	}
	return out
}
