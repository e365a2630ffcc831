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
)

// drawThroughputLatency draws latency (p50 dashed, p99 solid) against
// throughput, one curve per configuration along the load axis, as
// perf_analyzer and Model Analyzer users read them.
func drawThroughputLatency(r *reportCtx, path string) (Figure, error) {
	sw := r.sw
	title := "Throughput vs latency"
	ok := sw.okPoints()
	if len(ok) == 0 {
		return r.placeholderFigure(path, title, "throughput–latency curves", r.allFailedWhy())
	}
	along := "one point per configuration"
	if sw.AlongD != "" {
		along = "points along " + dimName(sw.AlongD)
	}
	fig := Figure{
		Title:   title,
		Caption: fmt.Sprintf("Latency against throughput, one curve per configuration (%s); solid p99, dashed p50.", along),
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(title+r.sw.tag(), sw.provenance())
	var notes []string
	if failed := sw.failedPoints(); len(failed) > 0 {
		notes = append(notes, "Not shown (failed): "+failedList(failed))
	}
	c = footer(c, notes)
	fig.Notes = notes

	p := newPlot("throughput (inferences/s)", "latency (ms)")
	p.X.Tick.Marker = compactTicks{}
	lg := &legendPanel{title: "configuration"}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, cfg := range sw.configs() {
		var p50s, p99s plotter.XYs
		for _, pt := range sw.pointsOf(cfg) {
			if !pt.ok() {
				continue
			}
			p50s = append(p50s, plotter.XY{X: pt.Throughput, Y: pt.P50MS})
			p99s = append(p99s, plotter.XY{X: pt.Throughput, Y: pt.P99MS})
			lo = math.Min(lo, math.Min(pt.P50MS, pt.P99MS))
			hi = math.Max(hi, math.Max(pt.P50MS, pt.P99MS))
		}
		if len(p99s) == 0 {
			continue
		}
		col := sw.Colors[cfg]
		shape := glyphShapes[sw.Shapes[cfg]]
		l99, s99, err := plotter.NewLinePoints(p99s)
		if err != nil {
			return fig, fmt.Errorf("p99 curve of %s: %w", cfg, err)
		}
		l99.Color, l99.Width = col, vg.Points(2)
		s99.Color, s99.Shape, s99.Radius = col, shape, vg.Points(3.5)
		l50, s50, err := plotter.NewLinePoints(p50s)
		if err != nil {
			return fig, fmt.Errorf("p50 curve of %s: %w", cfg, err)
		}
		l50.Color, l50.Width, l50.Dashes = col, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
		s50.Color, s50.Shape, s50.Radius = col, draw.RingGlyph{}, vg.Points(3)
		p.Add(l50, s50, l99, s99)
		lg.add(cfg, l99, s99)
	}
	if c, ok := r.limit("p99"); ok {
		addHLine(p, c.Value, colorFailed)
		lo, hi = math.Min(lo, c.Value), math.Max(hi, c.Value)
	}
	if c, ok := r.limit("throughput"); ok {
		addVLine(p, c.Value, colorFailed)
	}
	if op := r.operating; op != nil && op.ok() {
		star, _ := plotter.NewScatter(plotter.XYs{{X: op.Throughput, Y: op.P99MS}})
		star.Shape, star.Color, star.Radius = starGlyph{}, color.RGBA{0xff, 0xd7, 0x00, 0xff}, vg.Points(9)
		p.Add(star)
		lg.add("operating point", star)
		lbl, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: op.Throughput, Y: op.P99MS}}, Labels: []string{op.Label}})
		if err == nil {
			lbl.TextStyle[0] = textStyle(tickSize, colorText)
			lbl.TextStyle[0].XAlign = draw.XRight
			lbl.TextStyle[0].YAlign = draw.YBottom
			lbl.Offset = vg.Point{X: -vg.Points(8), Y: vg.Points(6)}
			p.Add(lbl)
		}
	}
	if lo > 0 && hi/lo > 20 {
		setLogAxis(&p.Y)
		p.Y.Min, p.Y.Max = p.Y.Min/1.15, p.Y.Max*1.15
	} else {
		p.Y.Min, p.Y.Max = 0, p.Y.Max*1.08
	}
	p.X.Min = 0
	p.X.Max *= 1.04 // keep the fastest point off the frame
	lg.add("")
	if sw.AlongD != "" {
		lg.add(fmt.Sprintf("points along %s %s–%s", abbrev(sw.AlongD), fmtCoord(sw.minAlong()), fmtCoord(sw.maxAlong())))
	}
	black := color.RGBA{0x33, 0x33, 0x33, 0xff}
	lg.add("p99 (solid)", &plotter.Line{LineStyle: draw.LineStyle{Color: black, Width: vg.Points(2)}},
		&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: black, Shape: draw.CircleGlyph{}, Radius: vg.Points(3.5)}})
	lg.add("p50 (dashed)", &plotter.Line{LineStyle: draw.LineStyle{Color: black, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}},
		&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: black, Shape: draw.RingGlyph{}, Radius: vg.Points(3)}})
	if _, ok := r.limit("p99"); ok {
		lg.add("constraint", &plotter.Line{LineStyle: limitStyle(colorFailed)})
	}
	c = lg.splitLegend(c)
	drawPlot(p, c)
	return fig, f.save(path)
}

func limitStyle(col color.Color) draw.LineStyle {
	return draw.LineStyle{Color: col, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
}

// addHLine draws a horizontal reference line (a constraint) across p.
func addHLine(p *plot.Plot, y float64, col color.Color) {
	p.Add(&refLine{y: y, horizontal: true, style: limitStyle(col)})
}

// addVLine draws a vertical reference line across p.
func addVLine(p *plot.Plot, x float64, col color.Color) {
	p.Add(&refLine{x: x, style: limitStyle(col)})
}

// refLine spans the whole data area at one coordinate. It reports a data
// range only along its own axis so that it widens the axis to include
// itself without stretching the other.
type refLine struct {
	x, y       float64
	horizontal bool
	style      draw.LineStyle
}

func (l *refLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	c.SetLineStyle(l.style)
	var path vg.Path
	if l.horizontal {
		y := trY(l.y)
		path.Move(vg.Point{X: c.Min.X, Y: y})
		path.Line(vg.Point{X: c.Max.X, Y: y})
	} else {
		x := trX(l.x)
		path.Move(vg.Point{X: x, Y: c.Min.Y})
		path.Line(vg.Point{X: x, Y: c.Max.Y})
	}
	c.Stroke(path)
}

func (l *refLine) DataRange() (xmin, xmax, ymin, ymax float64) {
	if l.horizontal {
		return math.Inf(1), math.Inf(-1), l.y, l.y
	}
	return l.x, l.x, math.Inf(1), math.Inf(-1)
}

// failedList names failed points and why, briefly.
func failedList(pts []*pointData) string {
	var parts []string
	for i, p := range pts {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(pts)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", p.Label, shorten(p.Reason, 70)))
	}
	return strings.Join(parts, "; ")
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// allFailedWhy explains a sweep with no usable point.
func (r *reportCtx) allFailedWhy() string {
	n := len(r.sw.Points)
	if n == 0 {
		return "the results hold no point records"
	}
	if n == 1 {
		return "the only point failed: " + r.sw.Points[0].Reason
	}
	return fmt.Sprintf("all %d points failed (first: %s: %s)", n, r.sw.Points[0].Label, r.sw.Points[0].Reason)
}
