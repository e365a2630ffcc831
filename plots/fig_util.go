package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/iaasbench/iaasbench/results"
)

// gpuUtilSeries and cpuUtilSeries are the series names telemetry writes
// for utilisation: NVML's and Triton's metrics for GPUs, the host's CPU.
var (
	gpuUtilSeries = []string{"gpu_util_pct", "nv_gpu_utilization"}
	cpuUtilSeries = []string{"cpu_util_pct"}
)

// utilSeries returns a point's utilisation over time from the first of
// names it has, averaged over devices (one series per GPU), with whether
// the series came from emulated devices.
func utilSeries(m *results.Measurement, names []string) (plotter.XYs, bool) {
	if m == nil || m.Telemetry == nil {
		return nil, false
	}
	for _, name := range names {
		var ss []results.Series
		emulated := false
		for _, s := range m.Telemetry.Series {
			if s.Name == name && len(s.T) > 0 && len(s.T) == len(s.V) {
				ss = append(ss, s)
				if s.Labels["source"] == "emulated" || s.Labels["emulated"] == "true" {
					emulated = true
				}
			}
		}
		if len(ss) == 0 {
			continue
		}
		// nv_gpu_utilization is a 0–1 ratio in Triton's metrics.
		scale := 1.0
		if name == "nv_gpu_utilization" && maxOf(ss[0].V) <= 1 {
			scale = 100
		}
		xy := make(plotter.XYs, len(ss[0].T))
		for i, t := range ss[0].T {
			sum := 0.0
			for _, s := range ss {
				sum += interp(s.T, s.V, t)
			}
			xy[i] = plotter.XY{X: t, Y: sum / float64(len(ss)) * scale}
		}
		return xy, emulated
	}
	return nil, false
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// interp reads a sampled series at t (linear, held at the ends).
func interp(ts, vs []float64, t float64) float64 {
	i, _ := slices.BinarySearch(ts, t)
	switch {
	case i == 0:
		return vs[0]
	case i >= len(ts):
		return vs[len(vs)-1]
	}
	t0, t1 := ts[i-1], ts[i]
	if t1 == t0 {
		return vs[i]
	}
	return vs[i-1] + (vs[i]-vs[i-1])*(t-t0)/(t1-t0)
}

// drawUtilization draws utilisation over time: a panel per configuration,
// a line per point shaded by load.
func drawUtilization(r *reportCtx, path string) (Figure, error) {
	sw := r.sw
	ok := sw.okPoints()
	title := "GPU utilization over time"
	if len(ok) == 0 {
		return r.placeholderFigure(path, title, "utilization", r.allFailedWhy())
	}
	series := map[*pointData]plotter.XYs{}
	emulated := false
	for _, p := range ok {
		if xy, em := utilSeries(p.Measurement, gpuUtilSeries); xy != nil {
			series[p] = xy
			emulated = emulated || em
		}
	}
	kind := "GPU"
	var notes []string
	if len(series) == 0 {
		why := telemetryNotes(ok)
		notes = append(notes, "no GPU telemetry ("+why+"); showing host CPU utilization")
		kind = "CPU"
		title = "CPU utilization over time (no GPU telemetry)"
		for _, p := range ok {
			if xy, _ := utilSeries(p.Measurement, cpuUtilSeries); xy != nil {
				series[p] = xy
			}
		}
		if len(series) == 0 {
			return r.placeholderFigure(path, "Utilization over time", "utilization",
				"no GPU telemetry ("+why+") and no CPU series either")
		}
	} else if missing := len(ok) - len(series); missing > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d points have no GPU series (%s)", missing, len(ok), telemetryNotes(ok)))
	}
	if kind == "GPU" && emulated {
		title += " (emulated devices)"
	}
	fig := Figure{
		Title:   title,
		Caption: fmt.Sprintf("%s utilization sampled during each point's measured window, mean over the point's devices; one panel per configuration, darker lines carry more load.", kind),
		Notes:   notes,
	}

	var cfgs []string
	for _, cfg := range sw.configs() {
		for _, p := range sw.pointsOf(cfg) {
			if series[p] != nil {
				cfgs = append(cfgs, cfg)
				break
			}
		}
	}
	const maxPanels = 16
	if len(cfgs) > maxPanels {
		fig.Notes = append(fig.Notes, fmt.Sprintf("showing the first %d of %d configurations", maxPanels, len(cfgs)))
		cfgs = cfgs[:maxPanels]
	}
	cols := int(math.Ceil(math.Sqrt(float64(len(cfgs)) * 1.6)))
	cols = min(cols, len(cfgs))
	rows := (len(cfgs) + cols - 1) / cols
	height := math.Max(r.opts.HeightIn, 1.6+1.7*float64(rows))
	f := newFigure(r.opts, height)
	c := f.header(title+sw.tag(), sw.provenance())
	c = footer(c, fig.Notes)

	// One legend for all panels: the load along the along-axis, in grey
	// shades that match the shading of every panel's configuration colour.
	lg := &legendPanel{}
	if sw.AlongD != "" {
		lg.title = dimName(sw.AlongD)
		seen := map[float64]bool{}
		var alongs []float64
		for p := range series {
			if !seen[p.Along] {
				seen[p.Along] = true
				alongs = append(alongs, p.Along)
			}
		}
		slices.Sort(alongs)
		for i, a := range alongs {
			col := shade(color.RGBA{0x55, 0x55, 0x55, 0xff}, i, len(alongs))
			lg.add(fmt.Sprintf("%s=%s", abbrev(sw.AlongD), fmtCoord(a)),
				&plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(2)}})
		}
	}
	c = lg.splitLegend(c)

	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(6), PadY: vg.Points(6)}
	for i, cfg := range cfgs {
		row, col := i/cols, i%cols
		tc := tiles.At(c, col, row)
		ylabel, xlabel := "", ""
		if col == 0 {
			ylabel = kind + " util (%)"
		}
		if row == rows-1 || i+cols >= len(cfgs) {
			xlabel = "time (s)"
		}
		p := newPlot(xlabel, ylabel)
		p.Title.Text = cfg
		p.Title.TextStyle.Font = font.From(sansFont, vg.Points(legendSize))
		p.Title.TextStyle.Color = sw.Colors[cfg]
		p.Y.Min, p.Y.Max = 0, 100
		pts := sw.pointsOf(cfg)
		for _, pt := range pts {
			xy := series[pt]
			if xy == nil {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return fig, fmt.Errorf("utilization of %s: %w", pt.Label, err)
			}
			l.Color, l.Width = sw.pointColor(pt), vg.Points(1.6)
			p.Add(l)
		}
		p.Y.Min, p.Y.Max = 0, 100
		p.X.Min = 0
		p.Draw(tc)
	}
	return fig, f.save(path)
}

// shade is the i-th of n shades of base, light to dark, as pointColor
// shades a configuration's colour along the load axis.
func shade(base color.RGBA, i, n int) color.RGBA {
	if n < 2 {
		return base
	}
	t := float64(i) / float64(n-1)
	if t < 0.5 {
		return lighten(base, (0.5-t)*0.9)
	}
	return darken(base, (t-0.5)*0.6)
}

// telemetryNotes collects the reasons telemetry gave for missing series.
func telemetryNotes(pts []*pointData) string {
	var notes []string
	for _, p := range pts {
		if p.Measurement == nil || p.Measurement.Telemetry == nil {
			continue
		}
		for _, n := range p.Measurement.Telemetry.Notes {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	if len(notes) == 0 {
		return "no telemetry recorded and no reason given"
	}
	return strings.Join(notes, "; ")
}
