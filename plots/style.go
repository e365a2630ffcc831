package plots

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// sansFont is the typeface of every figure: a sans face reads better than
// gonum's default serif at screen resolution.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// qualitative is the palette configurations draw from (Okabe–Ito, then
// Tableau): colour-blind safe first, distinct on white.
var qualitative = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x00, 0x9E, 0x73, 0xff}, // green
	{0xCC, 0x79, 0xA7, 0xff}, // pink
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x56, 0xB4, 0xE9, 0xff}, // sky
	{0x59, 0x4F, 0x8F, 0xff}, // purple
	{0x8C, 0x56, 0x4B, 0xff}, // brown
	{0x2C, 0x3E, 0x50, 0xff}, // slate
	{0xB8, 0x86, 0x0B, 0xff}, // dark gold
	{0x17, 0xBE, 0xCF, 0xff}, // cyan
	{0x7F, 0x7F, 0x7F, 0xff}, // grey
}

// glyphShapes cycle with the palette so that configurations stay distinct
// when there are more of them than colours.
var glyphShapes = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

var (
	colorGrey     = color.RGBA{0x9a, 0x9a, 0x9a, 0xff}
	colorLightBg  = color.RGBA{0xf4, 0xf4, 0xf4, 0xff}
	colorFailed   = color.RGBA{0xc0, 0x1c, 0x28, 0xff}
	colorText     = color.RGBA{0x22, 0x22, 0x22, 0xff}
	colorSubtitle = color.RGBA{0x55, 0x55, 0x55, 0xff}
)

// Font sizes in points. At 120 dpi, 11 pt is about 18 px: readable on a
// pull-request page at the size shown.
const (
	titleSize    = 15
	subtitleSize = 11
	labelSize    = 12
	tickSize     = 11
	legendSize   = 11
	noteSize     = 11
)

func textStyle(size float64, c color.Color) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(sansFont, vg.Points(size)),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a plot with the report's fonts and a light grid.
func newPlot(xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sansFont, vg.Points(labelSize))
		ax.Tick.Label.Font = font.From(sansFont, vg.Points(tickSize))
		ax.Label.Padding = vg.Points(4)
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.TextStyle.Font = font.From(sansFont, vg.Points(legendSize))
	p.Title.TextStyle.Font = font.From(sansFont, vg.Points(labelSize))
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.RGBA{0xe2, 0xe2, 0xe2, 0xff}
	grid.Horizontal.Color = grid.Vertical.Color
	p.Add(grid)
	return p
}

// figure is one PNG being drawn: a title block, a body and an optional
// footer of notes.
type figure struct {
	img  *vgimg.Canvas
	full draw.Canvas
	dpi  int
}

func newFigure(o Options, heightIn float64) *figure {
	w := vg.Length(o.WidthIn) * vg.Inch
	h := vg.Length(heightIn) * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(o.DPI), vgimg.UseBackgroundColor(color.White))
	return &figure{img: img, full: draw.New(img), dpi: o.DPI}
}

const margin = 8 // points around the figure's edge

// header draws the title and subtitle and returns the canvas left below.
func (f *figure) header(title, subtitle string) draw.Canvas {
	c := draw.Crop(f.full, vg.Points(margin), -vg.Points(margin), vg.Points(margin), -vg.Points(margin))
	ts := textStyle(titleSize, colorText)
	ts.YAlign = draw.YTop
	y := c.Max.Y
	for _, line := range wrapText(title, ts, c.Max.X-c.Min.X) {
		c.FillText(ts, vg.Point{X: c.Min.X, Y: y}, line)
		y -= ts.Rectangle(line).Size().Y
	}
	if subtitle != "" {
		ss := textStyle(subtitleSize, colorSubtitle)
		ss.YAlign = draw.YTop
		for _, line := range wrapText(subtitle, ss, c.Max.X-c.Min.X) {
			c.FillText(ss, vg.Point{X: c.Min.X, Y: y}, line)
			y -= ss.Rectangle(line).Size().Y
		}
	}
	c.Max.Y = y - vg.Points(6)
	return c
}

// footer draws notes along the bottom of c and returns what is left above.
func footer(c draw.Canvas, notes []string) draw.Canvas {
	if len(notes) == 0 {
		return c
	}
	ns := textStyle(noteSize, colorSubtitle)
	var lines []string
	for _, n := range notes {
		lines = append(lines, wrapText(n, ns, c.Max.X-c.Min.X)...)
	}
	// Too many notes would crowd out the figure; the rest are in README.md.
	if len(lines) > 4 {
		lines = append(lines[:3], "… more notes in README.md")
	}
	y := c.Min.Y
	for i := len(lines) - 1; i >= 0; i-- {
		c.FillText(ns, vg.Point{X: c.Min.X, Y: y}, lines[i])
		y += ns.Rectangle(lines[i]).Size().Y
	}
	c.Min.Y = y + vg.Points(4)
	return c
}

// wrapText breaks s into lines no wider than w in style sty.
func wrapText(s string, sty text.Style, w vg.Length) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			out = append(out, "")
			continue
		}
		line := words[0]
		for _, wd := range words[1:] {
			if sty.Width(line+" "+wd) > w {
				out = append(out, line)
				line = wd
				continue
			}
			line += " " + wd
		}
		out = append(out, line)
	}
	return out
}

// save writes the figure as a PNG.
func (f *figure) save(path string) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create figure: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: f.img}).WriteTo(file); err != nil {
		file.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// message draws a boxed explanation in the middle of c: what a figure
// would have shown and why it cannot.
func message(c draw.Canvas, lines ...string) {
	ms := textStyle(labelSize+1, colorText)
	ms.XAlign = draw.XCenter
	ms.YAlign = draw.YCenter
	var wrapped []string
	for _, l := range lines {
		wrapped = append(wrapped, wrapText(l, ms, (c.Max.X-c.Min.X)*0.8)...)
	}
	lh := ms.Rectangle("Ag").Size().Y * 1.3
	total := lh * vg.Length(len(wrapped))
	ctr := c.Center()
	box := vg.Rectangle{
		Min: vg.Point{X: c.Min.X + (c.Max.X-c.Min.X)*0.06, Y: ctr.Y - total/2 - lh},
		Max: vg.Point{X: c.Max.X - (c.Max.X-c.Min.X)*0.06, Y: ctr.Y + total/2 + lh},
	}
	c.SetColor(colorLightBg)
	c.Fill(box.Path())
	c.SetLineStyle(draw.LineStyle{Color: colorGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}})
	c.Stroke(box.Path())
	y := ctr.Y + total/2 - lh/2
	for _, l := range wrapped {
		c.FillText(ms, vg.Point{X: ctr.X, Y: y}, l)
		y -= lh
	}
}

// legendPanel is a legend drawn beside the plot, never over its data.
type legendPanel struct {
	title   string
	entries []legendEntry
}

type legendEntry struct {
	name   string
	thumbs []plot.Thumbnailer
}

func (l *legendPanel) add(name string, thumbs ...plot.Thumbnailer) {
	l.entries = append(l.entries, legendEntry{name: name, thumbs: thumbs})
}

func (l *legendPanel) legend() plot.Legend {
	lg := plot.NewLegend()
	lg.TextStyle.Font = font.From(sansFont, vg.Points(legendSize))
	lg.Left = true
	lg.Top = true
	lg.Padding = vg.Points(3)
	lg.ThumbnailWidth = vg.Points(24)
	for _, e := range l.entries {
		lg.Add(e.name, e.thumbs...)
	}
	return lg
}

// width is how much horizontal room the panel needs.
func (l *legendPanel) width(c draw.Canvas) vg.Length {
	if l == nil || len(l.entries) == 0 {
		return 0
	}
	lg := l.legend()
	r := lg.Rectangle(c)
	w := r.Max.X - r.Min.X
	if l.title != "" {
		ts := textStyle(legendSize, colorText)
		w = max(w, ts.Width(l.title))
	}
	return w + vg.Points(14)
}

// splitLegend reserves room on the right of c for the legend, draws it and
// returns the canvas left for the plot.
func (l *legendPanel) splitLegend(c draw.Canvas) draw.Canvas {
	w := l.width(c)
	if w == 0 {
		return c
	}
	// Never let the legend take more than 45% of the width.
	w = min(w, (c.Max.X-c.Min.X)*0.45)
	lc := draw.Crop(c, (c.Max.X-c.Min.X)-w+vg.Points(10), 0, 0, -vg.Points(18))
	if l.title != "" {
		ts := textStyle(legendSize, colorText)
		ts.YAlign = draw.YTop
		ts.Font.Weight = 700
		lc.FillText(ts, vg.Point{X: lc.Min.X, Y: lc.Max.Y}, l.title)
		lc.Max.Y -= ts.Rectangle(l.title).Size().Y + vg.Points(4)
	}
	lg := l.legend()
	lg.Draw(lc)
	return draw.Crop(c, 0, -w, 0, 0)
}

// niceLogTicks labels 1-2-5 steps when a log axis spans few decades, where
// gonum's LogTicks would leave it with one or two labels.
type niceLogTicks struct{}

func (niceLogTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 || lo >= hi {
		return nil
	}
	decades := math.Log10(hi / lo)
	// Label 1-2-5 steps, or every mantissa on a narrow axis, or decades
	// only on a wide one: whichever gives at least two labels.
	for _, steps := range [][]int{{1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}} {
		if decades > 3 {
			steps = []int{1}
		}
		ticks, labelled := logTicks(lo, hi, steps)
		if labelled >= 2 || decades > 3 {
			return ticks
		}
	}
	ticks, _ := logTicks(lo, hi, []int{1, 2, 3, 4, 5, 6, 7, 8, 9})
	return ticks
}

func logTicks(lo, hi float64, steps []int) ([]plot.Tick, int) {
	var ticks []plot.Tick
	labelled := 0
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if slices.Contains(steps, m) {
				t.Label = formatNumber(v)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	return ticks, labelled
}

// formatNumber writes v compactly for tick labels and tables.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	case a >= 1:
		return strconv.FormatFloat(v, 'g', 4, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

// compactTicks wraps gonum's default ticks with compact labels (20k
// rather than 20000) so that wide numbers don't collide.
type compactTicks struct{}

func (compactTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = formatNumber(ts[i].Value)
		}
	}
	return ts
}

// setLogAxis switches ax to a log scale when its data span it well.
func setLogAxis(ax *plot.Axis) {
	ax.Scale = plot.LogScale{}
	ax.Tick.Marker = niceLogTicks{}
}

// starGlyph marks the operating point.
type starGlyph struct{}

func (starGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var p vg.Path
	r := sty.Radius
	for i := 0; i < 10; i++ {
		rad := r
		if i%2 == 1 {
			rad = r * 0.45
		}
		a := math.Pi/2 + float64(i)*math.Pi/5
		q := vg.Point{X: pt.X + rad*vg.Length(math.Cos(a)), Y: pt.Y + rad*vg.Length(math.Sin(a))}
		if i == 0 {
			p.Move(q)
		} else {
			p.Line(q)
		}
	}
	p.Close()
	c.SetColor(sty.Color)
	c.Fill(p)
	c.SetLineStyle(draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)})
	c.Stroke(p)
}

// lighten mixes c with white by t in [0,1].
func lighten(c color.Color, t float64) color.RGBA {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 {
		f := float64(v>>8)*(1-t) + 255*t
		return uint8(math.Round(f))
	}
	return color.RGBA{mix(r), mix(g), mix(b), 0xff}
}

// darken mixes c with black by t in [0,1].
func darken(c color.Color, t float64) color.RGBA {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(math.Round(float64(v>>8) * (1 - t))) }
	return color.RGBA{mix(r), mix(g), mix(b), 0xff}
}

// drawPlot draws p after widening any axis whose data span nothing (a
// flat cost, a single point): gonum/plot panics on an empty range, and a
// degenerate sweep must still give a figure.
func drawPlot(p *plot.Plot, c draw.Canvas) {
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		if ax.Max > ax.Min {
			continue
		}
		pad := math.Abs(ax.Min) * 0.05
		if pad == 0 || math.IsNaN(pad) || math.IsInf(pad, 0) {
			pad = 1
		}
		if math.IsNaN(ax.Min) || math.IsInf(ax.Min, 0) {
			ax.Min, ax.Max = 0, 1
			continue
		}
		ax.Min, ax.Max = ax.Min-pad, ax.Min+pad
	}
	p.Draw(c)
}
