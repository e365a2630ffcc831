package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/iaasbench/iaasbench/results"
)

// breakdownParts are the stacked components of a request's latency, in
// the order a request meets them, with colours of their own (they are
// components, not configurations).
var breakdownParts = []struct {
	name string
	col  color.RGBA
	get  func(*results.Breakdown) float64
}{
	{"server queue", color.RGBA{0xD5, 0x5E, 0x00, 0xff}, func(b *results.Breakdown) float64 { return b.QueueUS }},
	{"compute input", color.RGBA{0x56, 0xB4, 0xE9, 0xff}, func(b *results.Breakdown) float64 { return b.ComputeInputUS }},
	{"compute infer", color.RGBA{0x00, 0x72, 0xB2, 0xff}, func(b *results.Breakdown) float64 { return b.ComputeInferUS }},
	{"compute output", color.RGBA{0x00, 0x9E, 0x73, 0xff}, func(b *results.Breakdown) float64 { return b.ComputeOutputUS }},
	{"client overhead", color.RGBA{0xBB, 0xBB, 0xBB, 0xff}, func(b *results.Breakdown) float64 { return b.ClientOverheadUS }},
}

// drawBreakdown draws, per point, where a request's time goes: stacked
// horizontal bars of server queue, compute and client overhead.
func drawBreakdown(r *reportCtx, path string) (Figure, error) {
	sw := r.sw
	title := "Where a request's time goes"
	var pts []*pointData
	missing := 0
	for _, p := range sw.okPoints() {
		if p.Measurement.Server != nil {
			pts = append(pts, p)
		} else {
			missing++
		}
	}
	if len(pts) == 0 {
		why := r.allFailedWhy()
		if len(sw.okPoints()) > 0 {
			why = "no point recorded server-side statistics (Measurement.Server)"
		}
		return r.placeholderFigure(path, title, "latency breakdown", why)
	}
	var notes []string
	if missing > 0 {
		notes = append(notes, fmt.Sprintf("%d points without server statistics not shown", missing))
	}
	if failed := sw.failedPoints(); len(failed) > 0 {
		notes = append(notes, "Not shown (failed): "+failedList(failed))
	}
	fig := Figure{
		Title:   title,
		Caption: "Mean time per request from Triton's statistics (server queue, compute input/infer/output) and the client latency beyond them (client overhead), in microseconds; » marks the operating point.",
		Notes:   notes,
	}
	// Rows grow the figure rather than shrink the labels.
	height := math.Max(r.opts.HeightIn, 1.9+0.24*float64(len(pts)))
	f := newFigure(r.opts, height)
	c := f.header(title+sw.tag(), sw.provenance())
	c = footer(c, notes)
	lg := &legendPanel{title: "component"}
	for _, part := range breakdownParts {
		lg.add(part.name, &plotter.BarChart{Color: part.col})
	}
	c = lg.splitLegend(c)

	p := newPlot("time per request (µs)", "")
	p.X.Tick.Marker = compactTicks{}
	// Bars are listed top to bottom in sweep order: gonum puts index 0 at
	// the bottom, so reverse.
	n := len(pts)
	labels := make([]string, n)
	for i, pt := range pts {
		labels[n-1-i] = pt.Label
		if pt == r.operating {
			labels[n-1-i] = "» " + pt.Label
		}
	}
	rowH := (c.Max.Y - c.Min.Y - vg.Points(40)) / vg.Length(n)
	barW := max(rowH*0.72, vg.Points(2))
	var below *plotter.BarChart
	for _, part := range breakdownParts {
		vals := make(plotter.Values, n)
		for i, pt := range pts {
			vals[n-1-i] = math.Max(0, part.get(pt.Measurement.Server))
		}
		bc, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return fig, fmt.Errorf("breakdown %s: %w", part.name, err)
		}
		bc.Horizontal = true
		bc.Color = part.col
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		p.Add(bc)
		below = bc
	}
	p.NominalY(labels...)
	p.Y.Tick.Label.Font.Size = vg.Points(tickSize)
	p.X.Min = 0
	p.X.Max *= 1.04 // the longest bar should not touch the frame
	drawPlot(p, c)
	return fig, f.save(path)
}
