package plots

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// viridisStops are control colours of matplotlib's viridis: perceptually
// uniform, readable in grey and by colour-blind readers, dark = low.
var viridisStops = []color.RGBA{
	{0x44, 0x01, 0x54, 0xff}, {0x48, 0x28, 0x78, 0xff}, {0x3e, 0x4a, 0x89, 0xff},
	{0x31, 0x68, 0x8e, 0xff}, {0x26, 0x82, 0x8e, 0xff}, {0x1f, 0x9e, 0x89, 0xff},
	{0x35, 0xb7, 0x79, 0xff}, {0x6d, 0xcd, 0x59, 0xff}, {0xb4, 0xde, 0x2c, 0xff},
	{0xfd, 0xe7, 0x25, 0xff},
}

// colorMap maps values in [min, max] onto viridis, clamping outside: it
// never fails, unlike gonum's maps, so a degenerate range cannot break a
// figure.
type colorMap struct {
	min, max, alpha float64
	// span is the fraction of viridis used (from its dark end): below 1
	// it keeps lines and points off the bright yellow end, which is
	// hard to see on white.
	span float64
}

var _ palette.ColorMap = (*colorMap)(nil)

func newColorMap(lo, hi float64) *colorMap {
	if hi <= lo {
		hi = lo + 1
	}
	return &colorMap{min: lo, max: hi, alpha: 1, span: 1}
}

func (m *colorMap) color(v float64) color.RGBA {
	t := (v - m.min) / (m.max - m.min)
	if math.IsNaN(t) {
		t = 0
	}
	t = math.Max(0, math.Min(1, t)) * m.span
	f := t * float64(len(viridisStops)-1)
	i := int(math.Floor(f))
	if i >= len(viridisStops)-1 {
		return viridisStops[len(viridisStops)-1]
	}
	a, b := viridisStops[i], viridisStops[i+1]
	u := f - float64(i)
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-u) + float64(y)*u)) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}

func (m *colorMap) withSpan(s float64) *colorMap { m.span = s; return m }

func (m *colorMap) At(v float64) (color.Color, error) { return m.color(v), nil }
func (m *colorMap) Max() float64                      { return m.max }
func (m *colorMap) SetMax(v float64)                  { m.max = v }
func (m *colorMap) Min() float64                      { return m.min }
func (m *colorMap) SetMin(v float64)                  { m.min = v }
func (m *colorMap) Alpha() float64                    { return m.alpha }
func (m *colorMap) SetAlpha(a float64)                { m.alpha = a }

func (m *colorMap) Palette(n int) palette.Palette {
	cs := make(plainPalette, n)
	for i := range cs {
		v := m.min
		if n > 1 {
			v += (m.max - m.min) * float64(i) / float64(n-1)
		}
		cs[i] = m.color(v)
	}
	return cs
}

// plainPalette is a fixed list of colours.
type plainPalette []color.Color

func (p plainPalette) Colors() []color.Color { return p }

// valueScale maps a figure's values to colour space: log10 when they are
// all positive and span a wide range (costs often span decades), linear
// otherwise. Ticks and labels are in the figure's own units.
type valueScale struct {
	log bool
}

func newValueScale(vals []float64) valueScale {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return valueScale{log: lo > 0 && hi/lo > 4}
}

func (s valueScale) to(v float64) float64 {
	if s.log {
		if v <= 0 {
			return math.NaN()
		}
		return math.Log10(v)
	}
	return v
}

func (s valueScale) from(z float64) float64 {
	if s.log {
		return math.Pow(10, z)
	}
	return z
}

// levels returns up to max round values of the figure between lo and hi
// (figure units), for contour lines.
func (s valueScale) levels(lo, hi float64, most int) []float64 {
	if !(hi > lo) {
		return nil // a flat surface has no contour lines
	}
	var ticks []plot.Tick
	if s.log {
		ticks = niceLogTicks{}.Ticks(lo, hi)
	} else {
		ticks = plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var out []float64
	for _, t := range ticks {
		if t.Label != "" && t.Value > lo && t.Value < hi {
			out = append(out, t.Value)
		}
	}
	if len(out) > most {
		// Thin evenly, keeping round values.
		step := (len(out) + most - 1) / most
		var thin []float64
		for i := 0; i < len(out); i += step {
			thin = append(thin, out[i])
		}
		out = thin
	}
	return out
}

// colorBar draws a vertical colour bar for cm (in colour space of sc) with
// the figure's units on its axis and marks at the contour levels.
func colorBar(c draw.Canvas, cm *colorMap, sc valueScale, label string, marks []float64) {
	p := newPlot("", label)
	p.Y.Label.Text = label
	p.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true, Colors: 128})
	p.HideX()
	p.Y.Min, p.Y.Max = cm.Min(), cm.Max()
	lo, hi := sc.from(cm.Min()), sc.from(cm.Max())
	p.Y.Tick.Marker = plot.TickerFunc(func(min, max float64) []plot.Tick {
		var raw []plot.Tick
		if sc.log {
			raw = niceLogTicks{}.Ticks(lo, hi)
		} else {
			raw = compactTicks{}.Ticks(lo, hi)
		}
		out := make([]plot.Tick, 0, len(raw))
		for _, t := range raw {
			out = append(out, plot.Tick{Value: sc.to(t.Value), Label: t.Label})
		}
		return out
	})
	for _, m := range marks {
		p.Add(&refLine{y: sc.to(m), horizontal: true, style: draw.LineStyle{Color: color.Black, Width: vg.Points(1)}})
	}
	drawPlot(p, c)
}
