package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
)

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
		m := stats.Median(vs)
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
	var ok []*pointData
	noLatency := 0
	for _, p := range r.sw.okPoints() {
		// A log p99 axis cannot place a point without a latency.
		if p.P99MS > 0 {
			ok = append(ok, p)
		} else {
			noLatency++
		}
	}
	if len(ok) == 0 {
		why := r.allFailedWhy()
		if noLatency > 0 {
			why = "no point recorded a p99 latency"
		}
		return r.placeholderFigure(path, title, "iso-cost lines", why)
	}
	var notes []string
	if noLatency > 0 {
		notes = append(notes, fmt.Sprintf("%d points without a p99 latency not shown", noLatency))
	}
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
	// At least half a decade of p99, so that the log axis has labels.
	ymin, ymax := math.Log10(plo)-0.08, math.Log10(phi)+0.08
	if ymax-ymin < 0.5 {
		mid := (ymax + ymin) / 2
		ymin, ymax = mid-0.25, mid+0.25
	}

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
		p.Add(&planeInfeasible{minIPS: minIPS, maxP99: maxP99})
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
		level, levelName = stats.Median(cs), "median measured"
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
			ct := plotter.NewContour(g, []float64{level}, nil)
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
	if op := r.operating; op != nil && op.P99MS > 0 {
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
		Caption: fmt.Sprintf("Measured points in the throughput–p99 plane coloured by expense (USD/hour). Each line is where a deployment of that expense would cost the same (%s) as the %s: points of that colour to its right or below are cheaper.",
			r.objectiveLabel(), map[bool]string{true: "operating point", false: "median measured point"}[r.operating != nil]),
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
	drawPlot(p, c)
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
