package plots

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// demandMet reports whether a point meets every throughput and data-rate
// constraint: the "required throughput" of the Pareto figure.
func (r *reportCtx) demandMet(figs map[string]float64) bool {
	for _, c := range r.constraints {
		switch c.Figure {
		case "throughput", "throughput_rps", "data_rate":
			v, ok := figs[c.Figure]
			if !ok || !c.Met(v) {
				return false
			}
		}
	}
	return true
}

func (r *reportCtx) demandText() string {
	var parts []string
	for _, c := range r.constraints {
		switch c.Figure {
		case "throughput", "throughput_rps", "data_rate":
			parts = append(parts, c.String())
		}
	}
	if len(parts) == 0 {
		return "no throughput required"
	}
	return strings.Join(parts, ", ")
}

// drawPareto draws expense against p99 among the points that deliver the
// required throughput: the frontier in configuration colours, dominated
// points grey.
func drawPareto(r *reportCtx, path string) (Figure, error) {
	title := "Pareto frontier: expense vs p99"
	if r.costErr != nil {
		return r.placeholderFigure(path, title, "Pareto frontier", r.costErr.Error())
	}
	byKey := map[string]*pointData{}
	for _, p := range r.sw.Points {
		byKey[p.Key] = p
	}
	var demanded []cost.Evaluated
	below := 0
	for _, ev := range r.evals {
		if ev.Status == results.StatusFailed {
			continue
		}
		if r.demandMet(ev.Figures) {
			demanded = append(demanded, ev)
		} else {
			below++
		}
	}
	if len(demanded) == 0 {
		why := r.allFailedWhy()
		if len(r.sw.okPoints()) > 0 {
			why = fmt.Sprintf("no point delivers the required throughput (%s)", r.demandText())
		}
		return r.placeholderFigure(path, title, "Pareto frontier", why)
	}
	front := cost.Pareto(demanded, "p99", "usd_per_hour")
	onFront := map[string]bool{}
	for _, ev := range front {
		onFront[ev.Point.Key()] = true
	}
	p := newPlot("p99 latency (ms)", "expense (USD per hour)")
	lg := &legendPanel{}
	var dominated, weak plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, ev := range r.evals {
		if ev.Status == results.StatusFailed {
			continue
		}
		p99, ok := ev.Figures["p99"]
		if !ok {
			continue // no latency recorded: nothing to place
		}
		xy := plotter.XY{X: p99, Y: ev.Expense.USDPerHour}
		lo, hi = math.Min(lo, xy.X), math.Max(hi, xy.X)
		switch {
		case onFront[ev.Point.Key()]:
		case r.demandMet(ev.Figures):
			dominated = append(dominated, xy)
		default:
			weak = append(weak, xy)
		}
	}
	if len(weak) > 0 {
		s, _ := plotter.NewScatter(weak)
		s.Shape, s.Color, s.Radius = draw.RingGlyph{}, color.RGBA{0xcc, 0xcc, 0xcc, 0xff}, vg.Points(4)
		p.Add(s)
		lg.add("below required throughput", s)
	}
	if len(dominated) > 0 {
		s, _ := plotter.NewScatter(dominated)
		s.Shape, s.Color, s.Radius = draw.CircleGlyph{}, colorGrey, vg.Points(4)
		p.Add(s)
		lg.add("dominated", s)
	}
	// The frontier as a staircase: from each point, latency improves only
	// by paying more.
	var stairs plotter.XYs
	for i, ev := range front {
		xy := plotter.XY{X: ev.Figures["p99"], Y: ev.Expense.USDPerHour}
		if i > 0 {
			stairs = append(stairs, plotter.XY{X: xy.X, Y: stairs[len(stairs)-1].Y})
		}
		stairs = append(stairs, xy)
	}
	if len(stairs) > 1 {
		l, err := plotter.NewLine(stairs)
		if err != nil {
			return Figure{}, fmt.Errorf("pareto line: %w", err)
		}
		l.Color, l.Width = color.RGBA{0x33, 0x33, 0x33, 0xff}, vg.Points(1.5)
		p.Add(l)
		lg.add("frontier", l)
	}
	for _, ev := range front {
		pd := byKey[ev.Point.Key()]
		if pd == nil {
			continue
		}
		xy := plotter.XY{X: ev.Figures["p99"], Y: ev.Expense.USDPerHour}
		s, _ := plotter.NewScatter(plotter.XYs{xy})
		s.Shape, s.Color, s.Radius = glyphShapes[r.sw.Shapes[pd.Config]], r.sw.pointColor(pd), vg.Points(6)
		p.Add(s)
		lg.add(pd.Label, s)
	}
	if op := r.operating; op != nil {
		star, _ := plotter.NewScatter(plotter.XYs{{X: op.P99MS, Y: op.USDHour}})
		star.Shape, star.Color, star.Radius = starGlyph{}, color.RGBA{0xff, 0xd7, 0x00, 0xff}, vg.Points(10)
		p.Add(star)
		lg.add("operating point", star)
	}
	if c, ok := r.limit("p99"); ok {
		addVLine(p, c.Value, colorFailed)
		lg.add("p99 limit "+formatNumber(c.Value)+" ms", &plotter.Line{LineStyle: limitStyle(colorFailed)})
		lo, hi = math.Min(lo, c.Value), math.Max(hi, c.Value)
	}
	if lo > 0 && hi/lo > 20 {
		setLogAxis(&p.X)
	}
	p.Y.Min = 0
	if p.X.Scale == (plot.LinearScale{}) {
		p.X.Min = 0
	}
	p.Y.Max *= 1.08

	var notes []string
	if below > 0 {
		notes = append(notes, fmt.Sprintf("%d points below the required throughput (%s) shown as hollow grey", below, r.demandText()))
	}
	if failed := r.sw.failedPoints(); len(failed) > 0 {
		notes = append(notes, "Not shown (failed): "+failedList(failed))
	}
	caption := fmt.Sprintf("Expense against p99 latency among the points that meet %s: each frontier point is the cheapest way to reach its latency; grey points are dominated (another point is both cheaper and faster).",
		r.demandText())
	if op := r.operating; op != nil && !onFront[op.Key] {
		caption += fmt.Sprintf(" The operating point minimises %s, which also counts throughput, so it can sit off this frontier.", r.objective)
	}
	fig := Figure{
		Title:   "Pareto frontier",
		Caption: caption,
		Notes:   notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(fmt.Sprintf("%s at %s%s", title, r.demandText(), r.sw.tag()), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	drawPlot(p, c)
	return fig, f.save(path)
}
