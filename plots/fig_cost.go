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
	if op.Best != nil {
		r.operating = byKey[op.Best.Point.Key()]
	}
}

// higherBetter are the figures an objective maximises (cost.Evaluate
// negates them into a cost); the report shows them with their sign.
var higherBetter = []string{"throughput", "throughput_rps", "data_rate", "gpu_util", "cpu_util"}

// objectiveValue turns a cost back into the objective's own value.
func (r *reportCtx) objectiveValue(c float64) float64 {
	if slices.Contains(higherBetter, r.objective) {
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
	case r.objective == "gpu_util" || r.objective == "cpu_util":
		return formatNumber(v) + "%"
	case slices.Contains([]string{"p50", "p90", "p95", "p99", "p999", "mean", "max"}, r.objective):
		return formatNumber(v) + " ms"
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
	}
	return r.objective + " (ms)"
}

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
	for _, d := range results.Dimensions {
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
	extrap   [][]bool
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
			col := color.Color(colorLightBg)
			if !math.IsNaN(z) {
				col = h.cm.color(z)
			}
			c.SetColor(col)
			// Overlap cells by a hair so that antialiasing leaves no seams.
			grow := vg.Points(0.3)
			c.Fill(vg.Rectangle{Min: vg.Point{X: rect.Min.X - grow, Y: rect.Min.Y - grow}, Max: vg.Point{X: rect.Max.X + grow, Y: rect.Max.Y + grow}}.Path())
			if !h.g.feasible[i][j] {
				c.SetColor(color.NRGBA{0xff, 0xff, 0xff, 0x70})
				c.Fill(rect.Path())
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
	cs, err := cost.NewCostSurface(r.evals, nil, r.spec)
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
		ext := make([]bool, len(ys))
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
			ext[j] = pp.Extrapolated
			if pp.Extrapolated {
				extrapolated++
			}
			vals = append(vals, v)
		}
		g.z = append(g.z, col)
		g.feasible = append(g.feasible, feas)
		g.extrap = append(g.extrap, ext)
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
			parts = append(parts, dimAbbrev[d]+"="+fmtCoord(coord(base.Point, d)))
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

	p := newPlot(dimTitle[xd]+axisScaleNote(xlog), dimTitle[yd]+axisScaleNote(ylog))
	p.X.Tick.Marker = r.dimTicks(xd, xlog)
	p.Y.Tick.Marker = r.dimTicks(yd, ylog)
	p.Add(&heatCells{g: g, cm: cm})
	if len(levels) > 0 && len(xs) > 1 && len(ys) > 1 {
		var zl []float64
		for _, l := range levels {
			zl = append(zl, sc.to(l))
		}
		ct := plotter.NewContour(g, zl, plainPalette{color.RGBA{0x10, 0x10, 0x10, 0xff}})
		ct.LineStyles = []draw.LineStyle{{Color: color.RGBA{0x10, 0x10, 0x10, 0xff}, Width: vg.Points(0.8)}}
		p.Add(ct)
		fb := plotter.NewContour(feasibleGrid{g}, []float64{0.5}, plainPalette{color.Black})
		fb.LineStyles = []draw.LineStyle{{Color: color.Black, Width: vg.Points(2.2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}}
		fb.Min, fb.Max = 0, 1
		p.Add(fb)
	}
	lg := &legendPanel{}
	r.addSurfacePoints(p, lg, dims, base, xlog, ylog)
	lg.add("infeasible", hatchThumb{})
	lg.add("feasibility edge", &plotter.Line{LineStyle: draw.LineStyle{Color: color.Black, Width: vg.Points(2.2), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}})
	lg.add("iso-cost contour", &plotter.Line{LineStyle: draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}})

	full := fmt.Sprintf("Cost surface: %s over %s × %s%s", r.objective, dimAbbrev[xd], dimAbbrev[yd], sliceText)
	fig := Figure{
		Title: "Cost surface",
		Caption: fmt.Sprintf("The objective (%s) predicted by the fitted cost surface over %s and %s, with contour lines at round values; hatched cells break a constraint.",
			r.objectiveLabel(), dimTitle[xd], dimTitle[yd]),
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
	c = draw.Crop(c, 0, -cbw, 0, 0)
	p.Draw(c)
	return fig, f.save(path)
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
	if r.sw.Strat != "" && r.sw.Strat != "grid" && len(path) > 1 {
		slices.SortStableFunc(path, func(a, b *pointData) int { return a.Order - b.Order })
		var xy plotter.XYs
		var lbl plotter.XYLabels
		for i, pt := range path {
			xy = append(xy, at(pt))
			lbl.XYs = append(lbl.XYs, at(pt))
			lbl.Labels = append(lbl.Labels, fmt.Sprintf(" %d", i+1))
		}
		l, err := plotter.NewLine(xy)
		if err == nil {
			l.Color, l.Width = color.RGBA{0xff, 0xff, 0xff, 0xff}, vg.Points(1.6)
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			p.Add(l)
			lg.add(fmt.Sprintf("search path (%s)", r.sw.Strat), l)
		}
		if labels, err := plotter.NewLabels(lbl); err == nil {
			for i := range labels.TextStyle {
				labels.TextStyle[i] = textStyle(tickSize, color.White)
				labels.TextStyle[i].Font.Weight = 700
			}
			p.Add(labels)
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
func (r *reportCtx) drawCostCurve(path string, cs *cost.CostSurface, dim string, notes []string) (Figure, error) {
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
	p := newPlot(dimTitle[dim]+axisScaleNote(xlog), r.objectiveLabel())
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
	title := fmt.Sprintf("Cost vs %s (only %s varies, so a curve rather than a surface)", dimAbbrev[dim], dimTitle[dim])
	fig := Figure{
		Title:   "Cost surface",
		Caption: fmt.Sprintf("The objective (%s) along the one swept dimension: measured points and the fitted curve; shaded stretches break a constraint.", r.objectiveLabel()),
		Notes:   notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(title+r.sw.tag(), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	p.Draw(c)
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
		xy := plotter.XY{X: ev.Figures["p99"], Y: ev.Expense.USDPerHour}
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
	if hi/lo > 20 {
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
	fig := Figure{
		Title: "Pareto frontier",
		Caption: fmt.Sprintf("Expense against p99 latency among the points that meet %s: each frontier point is the cheapest way to reach its latency; grey points are dominated (another point is both cheaper and faster).",
			r.demandText()),
		Notes: notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(fmt.Sprintf("%s at %s%s", title, r.demandText(), r.sw.tag()), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	p.Draw(c)
	return fig, f.save(path)
}

// planeCost is the objective at a hypothetical point with the given
// throughput and p99 and the size (hence expense) of like, computed as
// cost.Evaluate documents it: the objective figure itself, or the
// weighted sum normalised by the measured points' medians. ok is false
// when the objective reads a figure the plane does not have.
type planeCost struct {
	r      *reportCtx
	norm   map[string]float64
	usable bool
	why    string
}

var planeFigures = []string{"throughput", "p99", "usd_per_hour", "usd_per_million"}

func newPlaneCost(r *reportCtx) planeCost {
	pc := planeCost{r: r, usable: true, norm: map[string]float64{}}
	figs := []string{r.objective}
	if r.objective == "weighted" {
		figs = nil
		for f := range r.spec.Weights {
			figs = append(figs, f)
		}
		slices.Sort(figs)
	}
	for _, f := range figs {
		if !slices.Contains(planeFigures, f) {
			pc.usable = false
			pc.why = fmt.Sprintf("the objective reads %s, which the (throughput, p99) plane does not determine", f)
			return pc
		}
		var vs []float64
		for _, ev := range r.evals {
			if v, ok := ev.Figures[f]; ok && ev.Status != results.StatusFailed && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vs = append(vs, math.Abs(v))
			}
		}
		m := median(vs)
		if m == 0 || math.IsNaN(m) {
			m = 1
		}
		pc.norm[f] = m
	}
	return pc
}

func (pc planeCost) figures(like results.Point, ips, p99 float64) map[string]float64 {
	rec := results.Record{Point: like, Measurement: &results.Measurement{ThroughputIPS: ips}}
	if like.BatchSize > 0 {
		rec.Measurement.ThroughputRPS = ips / float64(like.BatchSize)
	}
	e := cost.ExpenseOf(rec, pc.r.spec.Prices)
	return map[string]float64{"throughput": ips, "p99": p99, "usd_per_hour": e.USDPerHour, "usd_per_million": e.USDPerMillion}
}

func (pc planeCost) at(like results.Point, ips, p99 float64) float64 {
	figs := pc.figures(like, ips, p99)
	if pc.r.objective != "weighted" {
		return figs[pc.r.objective] // displayed with its own sign
	}
	c := 0.0
	for f, w := range pc.r.spec.Weights {
		c += w * figs[f] / pc.norm[f]
	}
	return c
}

// planeGrid is a field over the (throughput, p99) plane with a log p99
// axis.
type planeGrid struct {
	xs, ys []float64 // throughput, log10 p99
	z      [][]float64
}

func (g *planeGrid) Dims() (int, int)   { return len(g.xs), len(g.ys) }
func (g *planeGrid) Z(c, r int) float64 { return g.z[c][r] }
func (g *planeGrid) X(c int) float64    { return g.xs[c] }
func (g *planeGrid) Y(r int) float64    { return g.ys[r] }

// planeInfeasible shades the region of the (throughput, p99) plane that
// breaks a throughput or p99 constraint.
type planeInfeasible struct {
	r      *reportCtx
	minIPS float64 // NaN when unconstrained
	maxP99 float64 // log10 ms; NaN when unconstrained
}

func (s *planeInfeasible) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	var rects []vg.Rectangle
	if !math.IsNaN(s.minIPS) {
		x := min(max(trX(s.minIPS), c.Min.X), c.Max.X)
		rects = append(rects, vg.Rectangle{Min: c.Min, Max: vg.Point{X: x, Y: c.Max.Y}})
	}
	if !math.IsNaN(s.maxP99) {
		y := min(max(trY(s.maxP99), c.Min.Y), c.Max.Y)
		lo := c.Min.X
		if !math.IsNaN(s.minIPS) {
			lo = min(max(trX(s.minIPS), c.Min.X), c.Max.X)
		}
		rects = append(rects, vg.Rectangle{Min: vg.Point{X: lo, Y: y}, Max: c.Max})
	}
	for _, rect := range rects {
		if rect.Max.X <= rect.Min.X || rect.Max.Y <= rect.Min.Y {
			continue
		}
		c.SetColor(color.RGBA{0xf2, 0xf2, 0xf2, 0xff})
		c.Fill(rect.Path())
		hatch(c, rect, vg.Points(7), color.NRGBA{0x20, 0x20, 0x20, 0x50})
	}
}

// drawIsoCost draws the measured points in the (throughput, p99) plane,
// coloured by expense, with the iso-cost line through the operating point
// for each expense level: the talk's surface of constant cost in inference
// space, cut at each price.
func drawIsoCost(r *reportCtx, path string) (Figure, error) {
	title := "Iso-cost lines in the throughput–latency plane"
	if r.costErr != nil {
		return r.placeholderFigure(path, title, "iso-cost lines", r.costErr.Error())
	}
	ok := r.sw.okPoints()
	if len(ok) == 0 {
		return r.placeholderFigure(path, title, "iso-cost lines", r.allFailedWhy())
	}
	var notes []string
	pc := newPlaneCost(r)
	if !pc.usable {
		notes = append(notes, "no iso-cost lines: "+pc.why)
	}
	// The plane's extent: the measured points and the constraints, padded.
	tlo, thi := math.Inf(1), math.Inf(-1)
	plo, phi := math.Inf(1), math.Inf(-1)
	elo, ehi := math.Inf(1), math.Inf(-1)
	for _, p := range ok {
		tlo, thi = math.Min(tlo, p.Throughput), math.Max(thi, p.Throughput)
		plo, phi = math.Min(plo, p.P99MS), math.Max(phi, p.P99MS)
		elo, ehi = math.Min(elo, p.USDHour), math.Max(ehi, p.USDHour)
	}
	minIPS, maxP99 := math.NaN(), math.NaN()
	if c, ok := r.limit("throughput"); ok {
		minIPS = c.Value
		thi = math.Max(thi, c.Value)
	}
	if c, ok := r.limit("p99"); ok {
		maxP99 = math.Log10(c.Value)
		plo, phi = math.Min(plo, c.Value), math.Max(phi, c.Value)
	}
	xmin, xmax := 0.0, thi*1.08
	ymin, ymax := math.Log10(plo)-0.08, math.Log10(phi)+0.08

	p := newPlot("throughput (inferences/s)", "p99 latency (ms, log scale)")
	p.X.Tick.Marker = compactTicks{}
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		var out []plot.Tick
		for _, t := range (niceLogTicks{}).Ticks(math.Pow(10, min), math.Pow(10, max)) {
			out = append(out, plot.Tick{Value: math.Log10(t.Value), Label: t.Label})
		}
		return out
	})
	lg := &legendPanel{}
	if !math.IsNaN(minIPS) || !math.IsNaN(maxP99) {
		p.Add(&planeInfeasible{r: r, minIPS: minIPS, maxP99: maxP99})
		lg.add("infeasible", hatchThumb{})
	}
	// Expense colours: a legend entry per level when there are few (a
	// sweep over GPUs has a handful of prices), a colour bar otherwise.
	sizes := expenseLevels(ok, math.MaxInt)
	discrete := len(sizes) <= 6
	cm := newColorMap(elo, ehi)
	cm.span = 0.85
	expColor := cm.color
	if discrete {
		expColor = func(v float64) color.RGBA {
			i := slices.IndexFunc(sizes, func(p *pointData) bool { return p.USDHour == v })
			t := 0.0
			if len(sizes) > 1 {
				t = float64(i) / float64(len(sizes)-1)
			}
			return newColorMap(0, 1).withSpan(0.85).color(t)
		}
	}
	// Iso-cost lines: one per expense level (a deployment size), at the
	// operating point's cost, or the median cost without one.
	level, levelName := math.NaN(), ""
	if r.operating != nil {
		level, levelName = r.objectiveValue(r.operating.Cost), "operating point's"
	} else {
		var cs []float64
		for _, p := range ok {
			if v := r.objectiveValue(p.Cost); !math.IsInf(v, 0) && !math.IsNaN(v) {
				cs = append(cs, v)
			}
		}
		level, levelName = median(cs), "median measured"
	}
	if pc.usable && !math.IsNaN(level) {
		const n = 80
		for _, like := range expenseLevels(ok, 6) {
			g := &planeGrid{}
			for i := range n {
				g.xs = append(g.xs, xmin+(xmax-xmin)*float64(i)/float64(n-1))
				g.ys = append(g.ys, ymin+(ymax-ymin)*float64(i)/float64(n-1))
			}
			for _, x := range g.xs {
				col := make([]float64, n)
				for j, y := range g.ys {
					col[j] = pc.at(like.Point, math.Max(x, 1e-9), math.Pow(10, y))
				}
				g.z = append(g.z, col)
			}
			col := expColor(like.USDHour)
			ct := plotter.NewContour(g, []float64{level}, plainPalette{col})
			ct.LineStyles = []draw.LineStyle{{Color: col, Width: vg.Points(2.2)}}
			p.Add(ct)
		}
		lg.add("iso-cost "+r.formatObjective(level),
			&plotter.Line{LineStyle: draw.LineStyle{Color: colorSubtitle, Width: vg.Points(2.2)}})
		lg.add("  (" + levelName + " cost)")
	}
	if discrete {
		lg.add("")
		for _, like := range sizes {
			col := expColor(like.USDHour)
			dot := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Shape: draw.CircleGlyph{}, Color: col, Radius: vg.Points(4.5)}}
			lg.add(fmt.Sprintf("$%.2f/hour", like.USDHour), &plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(2.2)}}, dot)
		}
	}
	// Points coloured by expense, outlined so that light colours show.
	for _, pt := range ok {
		xy := plotter.XYs{{X: pt.Throughput, Y: math.Log10(pt.P99MS)}}
		outer, _ := plotter.NewScatter(xy)
		outer.Shape, outer.Color, outer.Radius = draw.CircleGlyph{}, color.Black, vg.Points(5)
		inner, _ := plotter.NewScatter(xy)
		inner.Shape, inner.Color, inner.Radius = draw.CircleGlyph{}, expColor(pt.USDHour), vg.Points(4)
		p.Add(outer, inner)
	}
	if op := r.operating; op != nil {
		star, _ := plotter.NewScatter(plotter.XYs{{X: op.Throughput, Y: math.Log10(op.P99MS)}})
		star.Shape, star.Color, star.Radius = starGlyph{}, color.RGBA{0xff, 0xd7, 0x00, 0xff}, vg.Points(10)
		p.Add(star)
		lg.add("operating point", star)
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = ymin, ymax

	if failed := r.sw.failedPoints(); len(failed) > 0 {
		notes = append(notes, "Not shown (failed): "+failedList(failed))
	}
	fig := Figure{
		Title: "Iso-cost lines",
		Caption: fmt.Sprintf("Measured points in the throughput–p99 plane coloured by expense (USD/hour). Each line is where a deployment of that expense would cost the same (%s) as the %s point: points of that colour to its right or below are cheaper.",
			r.objectiveLabel(), strings.TrimSuffix(levelName, "'s")),
		Notes: notes,
	}
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(title+r.sw.tag(), r.sw.provenance())
	c = footer(c, notes)
	c = lg.splitLegend(c)
	if !discrete {
		cbw := vg.Points(labelSize*2 + tickSize*4 + 20)
		cbc := draw.Crop(c, c.Max.X-c.Min.X-cbw, 0, 0, 0)
		cbc = draw.Crop(cbc, 0, -vg.Points(18), 0, 0)
		colorBar(cbc, cm, valueScale{}, "expense (USD per hour)", nil)
		c = draw.Crop(c, 0, -cbw, 0, 0)
	}
	p.Draw(c)
	return fig, f.save(path)
}

// expenseLevels returns one representative point per distinct expense
// (USD/hour), at most n of them spread over the range.
func expenseLevels(pts []*pointData, n int) []*pointData {
	var out []*pointData
	for _, p := range pts {
		if !slices.ContainsFunc(out, func(q *pointData) bool { return q.USDHour == p.USDHour }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *pointData) int {
		switch {
		case a.USDHour < b.USDHour:
			return -1
		case a.USDHour > b.USDHour:
			return 1
		}
		return 0
	})
	if len(out) <= n {
		return out
	}
	var thin []*pointData
	for i := range n {
		thin = append(thin, out[i*(len(out)-1)/(n-1)])
	}
	return thin
}
