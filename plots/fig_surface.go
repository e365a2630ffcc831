package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// surfaceDims picks the two dimensions of the cost surface: the options',
// then the spec's, then the two varied most. Fewer come back when fewer
// vary.
func (r *reportCtx) surfaceDims() ([]string, []string) {
	var notes []string
	varied := r.sw.Varied
	for _, want := range [][]string{r.opts.Surface, r.spec.Surface} {
		if len(want) == 0 {
			continue
		}
		ok := len(want) == 2 && want[0] != want[1]
		for _, d := range want {
			if !slices.Contains(varied, d) {
				ok = false
			}
		}
		if ok {
			return want, notes
		}
		notes = append(notes, fmt.Sprintf("surface %s ignored: want two different dimensions the sweep varies (%s)",
			strings.Join(want, " × "), strings.Join(varied, ", ")))
		break
	}
	ds := slices.Clone(varied)
	distinct := func(d string) int {
		seen := map[float64]bool{}
		for _, p := range r.sw.Points {
			seen[coord(p.Point, d)] = true
		}
		return len(seen)
	}
	slices.SortStableFunc(ds, func(a, b string) int { return distinct(b) - distinct(a) })
	if len(ds) > 2 {
		ds = ds[:2]
	}
	// The load dimension reads best across.
	if len(ds) == 2 && ds[1] == r.sw.AlongD {
		ds[0], ds[1] = ds[1], ds[0]
	}
	return ds, notes
}

// axisValues spans a dimension's measured range with up to n values, in
// log2 steps when all values are positive (instances, clients and GPUs
// scale multiplicatively), rounded to whole numbers for integer
// dimensions. It returns raw values and their axis coordinates.
func (r *reportCtx) axisValues(dim string, n int) (raw, axis []float64, log bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range r.sw.Points {
		v := coord(p.Point, dim)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	log = lo > 0
	integer := dim != "rate"
	for i := range n {
		t := float64(i) / float64(n-1)
		var v float64
		if log {
			v = math.Exp2(math.Log2(lo) + t*(math.Log2(hi)-math.Log2(lo)))
		} else {
			v = lo + t*(hi-lo)
		}
		if integer {
			v = math.Round(v)
		}
		if len(raw) > 0 && v == raw[len(raw)-1] {
			continue
		}
		raw = append(raw, v)
	}
	for _, v := range raw {
		if log {
			axis = append(axis, math.Log2(v))
		} else {
			axis = append(axis, v)
		}
	}
	return raw, axis, log
}

// dimTicks labels an axis in a dimension's raw units at its measured
// values (the axis itself may be log2).
func (r *reportCtx) dimTicks(dim string, log bool) plot.Ticker {
	var vals []float64
	for _, p := range r.sw.Points {
		v := coord(p.Point, dim)
		if !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	var ticks []plot.Tick
	for _, v := range vals {
		a := v
		if log {
			a = math.Log2(v)
		}
		ticks = append(ticks, plot.Tick{Value: a, Label: fmtCoord(v)})
	}
	return plot.ConstantTicks(ticks)
}

func setCoord(p *results.Point, dim string, v float64) {
	switch dim {
	case "gpus":
		p.GPUs = int(math.Round(v))
	case "instances":
		p.Instances = int(math.Round(v))
	case "clients":
		p.Clients = int(math.Round(v))
	case "rate":
		p.Rate = v
	case "batch_size":
		p.BatchSize = int(math.Round(v))
	case "servers":
		p.Servers = int(math.Round(v))
	}
}

// slicePoint is where the surface is cut through the dimensions it does
// not show: the operating point, else the cheapest usable point.
func (r *reportCtx) slicePoint() *pointData {
	if r.operating != nil {
		return r.operating
	}
	var best *pointData
	for _, p := range r.sw.okPoints() {
		if best == nil || p.CostKnown && p.Cost < best.Cost {
			best = p
		}
	}
	return best
}

// inSlice reports whether p lies on the slice through base along dims.
func inSlice(p, base *pointData, dims []string) bool {
	if p.Cat != base.Cat {
		return false
	}
	for _, d := range results.DimensionsOf([]results.Point{p.Point, base.Point}) {
		if !slices.Contains(dims, d) && coord(p.Point, d) != coord(base.Point, d) {
			return false
		}
	}
	return true
}

// surfaceGrid holds the cost surface evaluated on a grid.
type surfaceGrid struct {
	xs, ys   []float64   // axis coordinates
	z        [][]float64 // colour-space value, z[c][r]
	feasible [][]bool
}

func (g *surfaceGrid) Dims() (int, int)   { return len(g.xs), len(g.ys) }
func (g *surfaceGrid) Z(c, r int) float64 { return g.z[c][r] }
func (g *surfaceGrid) X(c int) float64    { return g.xs[c] }
func (g *surfaceGrid) Y(r int) float64    { return g.ys[r] }
func (g *surfaceGrid) cellBounds(vals []float64, i int) (lo, hi float64) {
	switch {
	case len(vals) == 1:
		return vals[0] - 0.5, vals[0] + 0.5
	case i == 0:
		return vals[0] - (vals[1]-vals[0])/2, (vals[0] + vals[1]) / 2
	case i == len(vals)-1:
		return (vals[i-1] + vals[i]) / 2, vals[i] + (vals[i]-vals[i-1])/2
	}
	return (vals[i-1] + vals[i]) / 2, (vals[i] + vals[i+1]) / 2
}

// feasibleGrid is the feasibility indicator as a field, for the boundary
// contour.
type feasibleGrid struct{ g *surfaceGrid }

func (f feasibleGrid) Dims() (int, int)   { return f.g.Dims() }
func (f feasibleGrid) X(c int) float64    { return f.g.xs[c] }
func (f feasibleGrid) Y(r int) float64    { return f.g.ys[r] }
func (f feasibleGrid) Z(c, r int) float64 { return map[bool]float64{true: 1}[f.g.feasible[c][r]] }

// heatCells fills the grid cells by value and hatches the infeasible ones.
type heatCells struct {
	g  *surfaceGrid
	cm *colorMap
}

func (h *heatCells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i := range h.g.xs {
		x0, x1 := h.g.cellBounds(h.g.xs, i)
		for j := range h.g.ys {
			y0, y1 := h.g.cellBounds(h.g.ys, j)
			rect := vg.Rectangle{Min: vg.Point{X: trX(x0), Y: trY(y0)}, Max: vg.Point{X: trX(x1), Y: trY(y1)}}
			z := h.g.z[i][j]
			col := colorLightBg
			if !math.IsNaN(z) {
				col = h.cm.color(z)
			}
			infeasible := !h.g.feasible[i][j]
			if infeasible {
				// Washed out rather than overlaid with alpha, so that
				// neighbouring cells leave no seams.
				col = lighten(col, 0.45)
			}
			c.SetColor(col)
			// Overlap cells by a hair so that antialiasing leaves no seams.
			grow := vg.Points(0.3)
			c.Fill(vg.Rectangle{Min: vg.Point{X: rect.Min.X - grow, Y: rect.Min.Y - grow}, Max: vg.Point{X: rect.Max.X + grow, Y: rect.Max.Y + grow}}.Path())
			if infeasible {
				hatch(c, rect, vg.Points(7), color.NRGBA{0x20, 0x20, 0x20, 0xa0})
			}
		}
	}
}

func (h *heatCells) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, _ = h.g.cellBounds(h.g.xs, 0)
	_, xmax = h.g.cellBounds(h.g.xs, len(h.g.xs)-1)
	ymin, _ = h.g.cellBounds(h.g.ys, 0)
	_, ymax = h.g.cellBounds(h.g.ys, len(h.g.ys)-1)
	return
}

// hatch draws 45° lines of one global pattern clipped to rect, so that
// neighbouring cells join into one hatched region.
func hatch(c draw.Canvas, rect vg.Rectangle, spacing vg.Length, col color.Color) {
	c.SetLineStyle(draw.LineStyle{Color: col, Width: vg.Points(0.7)})
	// Lines y = x + k·spacing; find the k that cross rect.
	kLo := math.Floor(float64((rect.Min.Y - rect.Max.X) / spacing))
	kHi := math.Ceil(float64((rect.Max.Y - rect.Min.X) / spacing))
	for k := kLo; k <= kHi; k++ {
		off := vg.Length(k) * spacing
		// Clip the line to the rectangle.
		x0 := max(rect.Min.X, rect.Min.Y-off)
		x1 := min(rect.Max.X, rect.Max.Y-off)
		if x1 <= x0 {
			continue
		}
		var path vg.Path
		path.Move(vg.Point{X: x0, Y: x0 + off})
		path.Line(vg.Point{X: x1, Y: x1 + off})
		c.Stroke(path)
	}
}

// hatchThumb is the legend swatch of the infeasible region.
type hatchThumb struct{}

func (hatchThumb) Thumbnail(c *draw.Canvas) {
	c.SetColor(colorLightBg)
	c.Fill(c.Rectangle.Path())
	hatch(*c, c.Rectangle, vg.Points(4), color.NRGBA{0x20, 0x20, 0x20, 0xc0})
}

// drawCostSurface draws the objective over two swept dimensions as a heat
// map with contours, the infeasible region hatched, measured points, the
// operating point and the search path; with one varied dimension, the
// objective along it.
func drawCostSurface(r *reportCtx, path string) (Figure, error) {
	title := "Cost surface"
	if r.costErr != nil {
		return r.placeholderFigure(path, title, "cost surface", r.costErr.Error())
	}
	ok := r.sw.okPoints()
	if len(ok) == 0 {
		return r.placeholderFigure(path, title, "cost surface", r.allFailedWhy())
	}
	dims, notes := r.surfaceDims()
	cs, err := cost.NewSurface(r.evals, nil, r.spec)
	if err != nil {
		return r.placeholderFigure(path, title, "cost surface", "the surface could not be fitted: "+err.Error())
	}
	switch len(dims) {
	case 0:
		p := ok[0]
		return r.placeholderFigure(path, title, "cost surface",
			fmt.Sprintf("the sweep has one point (%s), so there is no surface to draw; its %s is %s (see the table)",
				p.Label, r.objective, formatNumber(r.objectiveValue(p.Cost))))
	case 1:
		return r.drawCostCurve(path, cs, dims[0], notes)
	}
	base := r.slicePoint()
	xd, yd := dims[0], dims[1]
	xraw, xs, xlog := r.axisValues(xd, r.opts.GridSteps)
	yraw, ys, ylog := r.axisValues(yd, r.opts.GridSteps)
	g := &surfaceGrid{xs: xs, ys: ys}
	var vals []float64
	extrapolated := 0
	for i := range xs {
		col := make([]float64, len(ys))
		feas := make([]bool, len(ys))
		for j := range ys {
			pt := base.Point
			setCoord(&pt, xd, xraw[i])
			setCoord(&pt, yd, yraw[j])
			pp := cs.At(pt)
			v := r.objectiveValue(pp.Cost)
			if math.IsInf(v, 0) {
				v = math.NaN()
			}
			col[j] = v
			feas[j] = pp.Feasible
			if pp.Extrapolated {
				extrapolated++
			}
			vals = append(vals, v)
		}
		g.z = append(g.z, col)
		g.feasible = append(g.feasible, feas)
	}
	sc := newValueScale(vals)
	zlo, zhi := math.Inf(1), math.Inf(-1)
	for i := range g.z {
		for j := range g.z[i] {
			g.z[i][j] = sc.to(g.z[i][j])
			if z := g.z[i][j]; !math.IsNaN(z) {
				zlo, zhi = math.Min(zlo, z), math.Max(zhi, z)
			}
		}
	}
	if math.IsInf(zlo, 0) {
		return r.placeholderFigure(path, title, "cost surface", "the fitted surface has no finite cost anywhere on the grid")
	}
	cm := newColorMap(zlo, zhi)
	levels := sc.levels(sc.from(zlo), sc.from(zhi), 7)

	sliceDims := r.otherVaried(dims)
	sliceText := ""
	if len(sliceDims) > 0 {
		var parts []string
		for _, d := range sliceDims {
			parts = append(parts, abbrev(d)+"="+fmtCoord(coord(base.Point, d)))
		}
		sliceText = " at " + strings.Join(parts, " ")
		who := "the operating point"
		if base != r.operating {
			who = "the cheapest measured point (no feasible operating point)"
		}
		notes = append(notes, fmt.Sprintf("slice through %s: %s; points elsewhere are not shown", who, strings.Join(parts, ", ")))
	}
	if extrapolated > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d grid cells are extrapolated beyond measured values", extrapolated, len(xs)*len(ys)))
	}
	if math.IsNaN(sc.to(-1)) && slices.ContainsFunc(vals, math.IsNaN) {
		notes = append(notes, "grey cells: no finite cost predicted")
	}

	p := newPlot(dimName(xd)+axisScaleNote(xlog), dimName(yd)+axisScaleNote(ylog))
	p.X.Tick.Marker = r.dimTicks(xd, xlog)
	p.Y.Tick.Marker = r.dimTicks(yd, ylog)
	p.Add(&heatCells{g: g, cm: cm})
	if len(levels) > 0 && len(xs) > 1 && len(ys) > 1 {
		var zl []float64
		for _, l := range levels {
			zl = append(zl, sc.to(l))
		}
		ct := plotter.NewContour(g, zl, nil) // nil palette: the line style's colour
		ct.LineStyles = []draw.LineStyle{{Color: color.RGBA{0x10, 0x10, 0x10, 0xff}, Width: vg.Points(0.8)}}
		p.Add(ct)
		fb := plotter.NewContour(feasibleGrid{g}, []float64{0.5}, nil)
		fb.LineStyles = []draw.LineStyle{feasEdgeStyle()}
		fb.Min, fb.Max = 0, 1
		p.Add(fb)
	}
	lg := &legendPanel{}
	r.addSurfacePoints(p, lg, dims, base, xlog, ylog)
	lg.add("infeasible", hatchThumb{})
	lg.add("feasibility edge", &plotter.Line{LineStyle: feasEdgeStyle()})
	lg.add("iso-cost contour", &plotter.Line{LineStyle: draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}})

	full := fmt.Sprintf("Cost surface: %s over %s × %s%s", r.objective, abbrev(xd), abbrev(yd), sliceText)
	fig := Figure{
		Title: "Cost surface",
		Caption: fmt.Sprintf("The objective (%s) predicted by the fitted cost surface over %s and %s, with contour lines at round values; hatched cells break a constraint.",
			r.objectiveLabel(), dimName(xd), dimName(yd)),
		Notes: notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(full+r.sw.tag(), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	// The colour bar sits between plot and legend.
	cbw := vg.Points(labelSize*2 + tickSize*4 + 20)
	cbc := draw.Crop(c, c.Max.X-c.Min.X-cbw, 0, 0, 0)
	cbc = draw.Crop(cbc, 0, -vg.Points(18), 0, 0)
	colorBar(cbc, cm, sc, r.objectiveLabel(), levels)
	c = draw.Crop(c, 0, -cbw-vg.Points(10), 0, 0)
	drawPlot(p, c)
	return fig, f.save(path)
}

// feasEdgeStyle draws the edge of the feasible region in the constraint
// colour of the other figures.
func feasEdgeStyle() draw.LineStyle {
	return draw.LineStyle{Color: colorFailed, Width: vg.Points(2.4), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
}

func axisScaleNote(log bool) string {
	if log {
		return " (log2 scale)"
	}
	return ""
}

// otherVaried are the varied dimensions not in dims.
func (r *reportCtx) otherVaried(dims []string) []string {
	var out []string
	for _, d := range r.sw.Varied {
		if !slices.Contains(dims, d) {
			out = append(out, d)
		}
	}
	return out
}

// addSurfacePoints marks the slice's measured and failed points, the
// operating point and the search path on a surface plot.
func (r *reportCtx) addSurfacePoints(p *plot.Plot, lg *legendPanel, dims []string, base *pointData, xlog, ylog bool) {
	xd, yd := dims[0], dims[1]
	at := func(pt *pointData) plotter.XY {
		x, y := coord(pt.Point, xd), coord(pt.Point, yd)
		if xlog {
			x = math.Log2(x)
		}
		if ylog {
			y = math.Log2(y)
		}
		return plotter.XY{X: x, Y: y}
	}
	var measured, failed plotter.XYs
	var path []*pointData
	for _, pt := range r.sw.Points {
		if !inSlice(pt, base, dims) {
			continue
		}
		if pt.ok() {
			measured = append(measured, at(pt))
		} else {
			failed = append(failed, at(pt))
		}
		path = append(path, pt)
	}
	var badges *orderBadges
	if r.sw.Strat != "" && r.sw.Strat != "grid" && len(path) > 1 {
		slices.SortStableFunc(path, func(a, b *pointData) int { return a.Order - b.Order })
		var xy plotter.XYs
		badges = &orderBadges{}
		for i, pt := range path {
			xy = append(xy, at(pt))
			badges.xy = append(badges.xy, at(pt))
			badges.labels = append(badges.labels, fmt.Sprint(i+1))
		}
		// A white dash over a dark line reads on any heat-map colour.
		under, err1 := plotter.NewLine(xy)
		over, err2 := plotter.NewLine(xy)
		if err1 == nil && err2 == nil {
			under.Color, under.Width = color.Black, vg.Points(3.4)
			over.Color, over.Width = color.White, vg.Points(1.6)
			over.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			p.Add(under, over)
			lg.add(fmt.Sprintf("search path (%s),", r.sw.Strat), under, over)
			lg.add("  numbered in order")
		}
	}
	if len(measured) > 0 {
		outer, _ := plotter.NewScatter(measured)
		outer.Shape, outer.Color, outer.Radius = draw.CircleGlyph{}, color.Black, vg.Points(4.5)
		inner, _ := plotter.NewScatter(measured)
		inner.Shape, inner.Color, inner.Radius = draw.CircleGlyph{}, color.White, vg.Points(3)
		p.Add(outer, inner)
		lg.add("measured point", outer, inner)
	}
	if len(failed) > 0 {
		x, _ := plotter.NewScatter(failed)
		x.Shape, x.Color, x.Radius = draw.CrossGlyph{}, colorFailed, vg.Points(6)
		thick := &thickCross{}
		x.Shape = thick
		p.Add(x)
		lg.add("failed point", x)
	}
	if op := r.operating; op != nil && inSlice(op, base, dims) {
		star, _ := plotter.NewScatter(plotter.XYs{at(op)})
		star.Shape, star.Color, star.Radius = starGlyph{}, color.RGBA{0xff, 0xd7, 0x00, 0xff}, vg.Points(10)
		p.Add(star)
		lg.add("operating point", star)
	}
	if badges != nil {
		p.Add(badges) // last, so that no marker hides an order number
	}
}

// orderBadges numbers the points of a search path in small white discs
// beside the points, legible over any colour.
type orderBadges struct {
	xy     plotter.XYs
	labels []string
}

func (b *orderBadges) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	ts := textStyle(tickSize, colorText)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YCenter
	rad := vg.Points(8.5)
	for i, xy := range b.xy {
		ctr := vg.Point{X: trX(xy.X) + vg.Points(11), Y: trY(xy.Y) + vg.Points(11)}
		// Keep badges of points on the frame inside it.
		ctr.X = min(max(ctr.X, c.Min.X+rad), c.Max.X-rad)
		ctr.Y = min(max(ctr.Y, c.Min.Y+rad), c.Max.Y-rad)
		var disc vg.Path
		disc.Move(vg.Point{X: ctr.X + rad, Y: ctr.Y})
		disc.Arc(ctr, rad, 0, 2*math.Pi)
		disc.Close()
		c.SetColor(color.White)
		c.Fill(disc)
		c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)})
		c.Stroke(disc)
		c.FillText(ts, ctr, b.labels[i])
	}
}

// thickCross is a bold ×, visible on any heat-map colour.
type thickCross struct{}

func (thickCross) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	for _, w := range []struct {
		col   color.Color
		width vg.Length
	}{{color.White, vg.Points(4.5)}, {sty.Color, vg.Points(2.5)}} {
		c.SetLineStyle(draw.LineStyle{Color: w.col, Width: w.width})
		var p vg.Path
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y - r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y + r})
		p.Move(vg.Point{X: pt.X - r, Y: pt.Y + r})
		p.Line(vg.Point{X: pt.X + r, Y: pt.Y - r})
		c.Stroke(p)
	}
}

// drawCostCurve is the cost surface of a one-dimensional sweep: the
// objective along the one varied dimension, fitted line and measured
// points, infeasible stretches shaded.
func (r *reportCtx) drawCostCurve(path string, cs *cost.Surface, dim string, notes []string) (Figure, error) {
	base := r.slicePoint()
	raw, xs, xlog := r.axisValues(dim, r.opts.GridSteps*2)
	var fitted plotter.XYs
	var infeasible []float64
	for i, v := range raw {
		pt := base.Point
		setCoord(&pt, dim, v)
		pp := cs.At(pt)
		y := r.objectiveValue(pp.Cost)
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			fitted = append(fitted, plotter.XY{X: xs[i], Y: y})
		}
		if !pp.Feasible {
			infeasible = append(infeasible, xs[i])
		}
	}
	p := newPlot(dimName(dim)+axisScaleNote(xlog), r.objectiveLabel())
	p.X.Tick.Marker = r.dimTicks(dim, xlog)
	p.Y.Tick.Marker = compactTicks{}
	lg := &legendPanel{}
	if len(infeasible) > 0 {
		p.Add(&xBands{xs: xs, on: infeasible})
		lg.add("infeasible", hatchThumb{})
	}
	if len(fitted) > 1 {
		l, err := plotter.NewLine(fitted)
		if err != nil {
			return Figure{}, fmt.Errorf("cost curve: %w", err)
		}
		l.Color, l.Width = colorSubtitle, vg.Points(1.5)
		p.Add(l)
		lg.add("fitted surface", l)
	}
	var feas, infeas plotter.XYs
	for _, pt := range r.sw.okPoints() {
		x := coord(pt.Point, dim)
		if xlog {
			x = math.Log2(x)
		}
		y := r.objectiveValue(pt.Cost)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		if pt.Feasible {
			feas = append(feas, plotter.XY{X: x, Y: y})
		} else {
			infeas = append(infeas, plotter.XY{X: x, Y: y})
		}
	}
	cfgCol := r.sw.Colors[r.sw.Points[0].Config]
	if len(feas) > 0 {
		s, _ := plotter.NewScatter(feas)
		s.Shape, s.Color, s.Radius = draw.CircleGlyph{}, cfgCol, vg.Points(5)
		p.Add(s)
		lg.add("measured, feasible", s)
	}
	if len(infeas) > 0 {
		s, _ := plotter.NewScatter(infeas)
		s.Shape, s.Color, s.Radius = draw.RingGlyph{}, cfgCol, vg.Points(5)
		p.Add(s)
		lg.add("measured, infeasible", s)
	}
	if op := r.operating; op != nil {
		x := coord(op.Point, dim)
		if xlog {
			x = math.Log2(x)
		}
		star, _ := plotter.NewScatter(plotter.XYs{{X: x, Y: r.objectiveValue(op.Cost)}})
		star.Shape, star.Color, star.Radius = starGlyph{}, color.RGBA{0xff, 0xd7, 0x00, 0xff}, vg.Points(10)
		p.Add(star)
		lg.add("operating point", star)
	}
	if failed := r.sw.failedPoints(); len(failed) > 0 {
		notes = append(notes, "Not shown (failed): "+failedList(failed))
	}
	title := fmt.Sprintf("Cost vs %s (only %s varies, so a curve rather than a surface)", abbrev(dim), dimName(dim))
	fig := Figure{
		Title:   fmt.Sprintf("Cost vs %s (only %s varies)", dimName(dim), dimName(dim)),
		Caption: fmt.Sprintf("The objective (%s) along the one swept dimension: measured points and the fitted curve; shaded stretches break a constraint.", r.objectiveLabel()),
		Notes:   notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(title+r.sw.tag(), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	drawPlot(p, c)
	return fig, f.save(path)
}

// xBands hatches vertical bands at the given grid x values (the infeasible
// stretches of a one-dimensional cost curve).
type xBands struct {
	xs []float64 // the whole grid, for cell widths
	on []float64
}

func (b *xBands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	g := &surfaceGrid{}
	for i, x := range b.xs {
		if !slices.Contains(b.on, x) {
			continue
		}
		lo, hi := g.cellBounds(b.xs, i)
		rect := vg.Rectangle{Min: vg.Point{X: max(trX(lo), c.Min.X), Y: c.Min.Y}, Max: vg.Point{X: min(trX(hi), c.Max.X), Y: c.Max.Y}}
		c.SetColor(colorLightBg)
		c.Fill(rect.Path())
		hatch(c, rect, vg.Points(7), color.NRGBA{0x20, 0x20, 0x20, 0x60})
	}
}
