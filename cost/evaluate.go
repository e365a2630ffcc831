package cost

import (
	"fmt"
	"math"

	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
)

// Evaluated is one measured point seen through the cost function: its
// trials aggregated, its expense, figures, cost and feasibility.
type Evaluated struct {
	Point results.Point `json:"point"`
	// Status is ok when the figures come from complete trials, incomplete
	// when only incomplete trials were usable, failed when none was.
	Status results.Status `json:"status"`
	Reason string         `json:"reason,omitempty"` // why the point failed
	// N is how many trials were aggregated (0 for a failed point).
	N int `json:"n"`
	// Source and Emulated label simulated figures and emulated GPUs.
	Source   results.Source `json:"source,omitempty"`
	Emulated bool           `json:"emulated,omitempty"`

	Expense Expense `json:"expense"`
	// Figures maps FigureNames to the median over trials. A figure the
	// point does not have (see Figure) is absent.
	Figures map[string]float64 `json:"figures,omitempty"`
	// Cost is the objective's value: lower is better. +Inf for a failed
	// point or one without the objective's figures.
	Cost       float64  `json:"cost"`
	Feasible   bool     `json:"feasible"`
	Violations []string `json:"violations,omitempty"` // e.g. "p99 41.2ms > 20ms"
}

// Evaluate applies spec to the point records of recs (header records are
// skipped). Records of the same point (same Point.Key) are its trials:
// each figure is the median over the point's ok trials, or over its
// incomplete trials when it has no ok one, and N says how many. Failed
// attempts of a point that also has a usable trial are retries and are
// ignored; a point with no usable trial is returned failed, with the last
// failure's reason. Infeasible points are kept and marked, never dropped.
// Points come back in the order they first appear in recs.
//
// With Objective "weighted", Cost = Σ weight × figure / median(|figure|),
// the median taken over every non-failed point here, so that weights
// compare figures of different units; a negative weight rewards a figure.
// Otherwise Cost is the objective figure itself, negated for figures that
// are better higher (throughput, data_rate, utilisation).
func Evaluate(recs []results.Record, spec Spec) ([]Evaluated, error) {
	pl, err := spec.plan()
	if err != nil {
		return nil, err
	}
	type group struct {
		point                 results.Point
		ok, incomplete        []results.Record
		lastFailure           string
		source                results.Source
		emulated, anyGPU, any bool
	}
	var order []string
	groups := map[string]*group{}
	for i, r := range recs {
		switch r.Kind {
		case results.KindHeader:
			continue
		case results.KindPoint:
		default:
			return nil, fmt.Errorf("record %d (point %s): unknown kind %q (want point or header)", i+1, r.Point, r.Kind)
		}
		key := r.Point.Key()
		g := groups[key]
		if g == nil {
			g = &group{point: r.Point, source: r.Source}
			groups[key] = g
			order = append(order, key)
		}
		if r.Env != nil && r.Env.Emulated {
			g.emulated = true
		}
		if r.Point.GPUs > 0 {
			g.anyGPU = true
		}
		switch r.Status {
		case results.StatusOK, "":
			if r.Measurement == nil {
				g.lastFailure = "record has status ok but no measurement"
				continue
			}
			g.ok = append(g.ok, r)
		case results.StatusIncomplete:
			if r.Measurement == nil {
				g.lastFailure = "record is incomplete and has no measurement"
				continue
			}
			g.incomplete = append(g.incomplete, r)
		case results.StatusFailed:
			g.lastFailure = r.Reason
			if g.lastFailure == "" {
				g.lastFailure = "failed (no reason recorded)"
			}
		default:
			return nil, fmt.Errorf("record %d (point %s): unknown status %q (want ok, failed, incomplete)", i+1, r.Point, r.Status)
		}
	}
	for _, key := range order {
		if groups[key].anyGPU {
			if err := spec.Prices.validate(true); err != nil {
				return nil, fmt.Errorf("point %s uses GPUs: %w", key, err)
			}
			break
		}
	}

	out := make([]Evaluated, 0, len(order))
	for _, key := range order {
		g := groups[key]
		ev := Evaluated{Point: g.point, Source: g.source, Emulated: g.emulated}
		trials, status := g.ok, results.StatusOK
		if len(trials) == 0 {
			trials, status = g.incomplete, results.StatusIncomplete
		}
		if len(trials) == 0 {
			ev.Status = results.StatusFailed
			ev.Reason = g.lastFailure
			ev.Cost = math.Inf(1)
			ev.Violations = []string{"point failed: " + g.lastFailure}
			out = append(out, ev)
			continue
		}
		ev.Status, ev.N = status, len(trials)
		perFigure := map[string][]float64{}
		for _, r := range trials {
			exp := ExpenseOf(r, spec.Prices)
			for _, name := range FigureNames {
				if v, err := Figure(r, exp, name); err == nil {
					perFigure[name] = append(perFigure[name], v)
				}
			}
		}
		ev.Figures = make(map[string]float64, len(perFigure))
		for name, vs := range perFigure {
			ev.Figures[name] = stats.Median(vs)
		}
		ev.Expense = Expense{
			USDPerHour:     ev.Figures["usd_per_hour"],
			USDPerMillion:  ev.Figures["usd_per_million"],
			USDPerDataHour: ev.Figures["usd_per_data_hour"],
		}
		out = append(out, ev)
	}

	var sets []map[string]float64
	for _, ev := range out {
		if ev.Status != results.StatusFailed {
			sets = append(sets, ev.Figures)
		}
	}
	norm := pl.normalisers(sets)
	for i := range out {
		if out[i].Status == results.StatusFailed {
			continue
		}
		out[i].Cost, out[i].Feasible, out[i].Violations = pl.judge(out[i].Figures, norm)
	}
	return out, nil
}
