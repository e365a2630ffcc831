package plots

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

// cdfQuantiles are where the CDF is sampled: dense in the tail, where
// latency distributions differ most.
func cdfQuantiles() []float64 {
	var qs []float64
	for q := 0.0; q < 0.9; q += 0.01 {
		qs = append(qs, q)
	}
	for q := 0.9; q < 0.99; q += 0.002 {
		qs = append(qs, q)
	}
	for q := 0.99; q < 0.9999; q += 0.0002 {
		qs = append(qs, q)
	}
	return append(qs, 0.9999, 1)
}

// cdfOf turns a point's histogram into CDF points (latency ms, fraction).
func cdfOf(p *pointData) (plotter.XYs, error) {
	if p.Measurement == nil || p.Measurement.Histogram == nil {
		return nil, fmt.Errorf("%s: no latency histogram recorded", p.Label)
	}
	h, err := hist.FromResults(*p.Measurement.Histogram)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Label, err)
	}
	if h.Count() == 0 {
		return nil, fmt.Errorf("%s: latency histogram is empty", p.Label)
	}
	var xy plotter.XYs
	for _, q := range cdfQuantiles() {
		ms := float64(h.Quantile(q)) / 1e6
		if ms <= 0 {
			continue // a log axis cannot show 0
		}
		xy = append(xy, plotter.XY{X: ms, Y: q})
	}
	if len(xy) == 0 {
		return nil, fmt.Errorf("%s: every latency is 0", p.Label)
	}
	return xy, nil
}

// neighbours are the points one step away from p along one varied
// dimension, the others equal: what a reader compares the operating
// point with.
func (s *sweep) neighbours(p *pointData) (ok, failed []*pointData) {
	for _, d := range s.Varied {
		var vals []float64
		for _, q := range s.Points {
			v := coord(q.Point, d)
			if !slices.Contains(vals, v) {
				vals = append(vals, v)
			}
		}
		slices.Sort(vals)
		i := slices.Index(vals, coord(p.Point, d))
		for _, j := range []int{i - 1, i + 1} {
			if j < 0 || j >= len(vals) {
				continue
			}
			for _, q := range s.Points {
				if q == p || !sameExcept(p, q, d) || coord(q.Point, d) != vals[j] {
					continue
				}
				if q.ok() {
					ok = append(ok, q)
				} else {
					failed = append(failed, q)
				}
			}
		}
	}
	return ok, failed
}

func sameExcept(a, b *pointData, dim string) bool {
	if a.Cat != b.Cat {
		return false
	}
	for _, d := range results.DimensionsOf([]results.Point{a.Point, b.Point}) {
		if d != dim && coord(a.Point, d) != coord(b.Point, d) {
			return false
		}
	}
	return true
}

// drawLatencyCDF draws the latency distribution of the operating point
// and its neighbours.
func drawLatencyCDF(r *reportCtx, path string) (Figure, error) {
	sw := r.sw
	title := "Latency distribution"
	ok := sw.okPoints()
	if len(ok) == 0 {
		return r.placeholderFigure(path, title, "latency distribution", r.allFailedWhy())
	}
	centre := r.operating
	centreName := "operating point"
	var notes []string
	if centre == nil || !centre.ok() {
		// Without an operating point, the point with the most throughput is
		// the one a reader looks at first.
		centre = ok[0]
		for _, p := range ok {
			if p.Throughput > centre.Throughput {
				centre = p
			}
		}
		centreName = "highest throughput"
		notes = append(notes, r.opWhy+"; centred on the point with the highest throughput")
	}
	near, nearFailed := sw.neighbours(centre)
	pts := append([]*pointData{centre}, near...)
	if len(nearFailed) > 0 {
		notes = append(notes, "Neighbours not shown (failed): "+failedList(nearFailed))
	}
	p := newPlot("latency (ms, log scale)", "fraction of requests ≤ latency")
	lg := &legendPanel{title: "point"}
	lo, hi := math.Inf(1), math.Inf(-1)
	drawn := 0
	for i, pt := range pts {
		xy, err := cdfOf(pt)
		if err != nil {
			notes = append(notes, err.Error())
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return Figure{}, fmt.Errorf("cdf of %s: %w", pt.Label, err)
		}
		l.Color = sw.pointColor(pt)
		l.Width = vg.Points(1.6)
		if i == 0 {
			l.Width = vg.Points(3)
		} else {
			l.Dashes = dashFor(i)
		}
		for _, v := range xy {
			lo, hi = math.Min(lo, v.X), math.Max(hi, v.X)
		}
		p.Add(l)
		lg.add(pt.Label, l)
		if i == 0 {
			lg.add("  (" + centreName + ")")
		}
		drawn++
	}
	if drawn == 0 {
		return r.placeholderFigure(path, title, "latency distribution",
			fmt.Sprintf("no usable latency histogram for %s or its neighbours", centre.Label))
	}
	addHLine(p, 0.5, colorGrey)
	addHLine(p, 0.99, colorGrey)
	if c, ok := r.limit("p99"); ok {
		addVLine(p, c.Value, colorFailed)
		lo, hi = math.Min(lo, c.Value), math.Max(hi, c.Value)
		lg.add("p99 limit "+formatNumber(c.Value)+" ms", &plotter.Line{LineStyle: limitStyle(colorFailed)})
	}
	lg.add("p50 and p99", &plotter.Line{LineStyle: limitStyle(colorGrey)})
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = niceLogTicks{}
	p.X.Min, p.X.Max = lo/1.1, hi*1.1
	p.Y.Min, p.Y.Max = 0, 1

	fig := Figure{
		Title: title,
		Caption: fmt.Sprintf("Cumulative distribution of client latency at the %s (thick) and the points one step away from it along each swept dimension.",
			centreName),
		Notes: notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(fmt.Sprintf("%s at %s and its neighbours%s", title, centre.Label, sw.tag()), sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	drawPlot(p, c)
	return fig, f.save(path)
}

func dashFor(i int) []vg.Length {
	switch i % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(2), vg.Points(2)}
	}
	return []vg.Length{vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}
}
