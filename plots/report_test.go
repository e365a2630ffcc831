package plots

import (
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

var allFigures = []string{
	"throughput_latency.png", "cost_surface.png", "iso_cost.png", "pareto.png",
	"utilization.png", "latency_cdf.png", "breakdown.png",
}

// outDir is a temporary directory, or $PLOTS_KEEP/name to look at the
// figures after the test.
func outDir(t *testing.T, name string) string {
	t.Helper()
	if keep := os.Getenv("PLOTS_KEEP"); keep != "" {
		d := filepath.Join(keep, name)
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// pngStats decodes a PNG and measures how much of its inner area (the
// plot area: margins, title and legend column excluded) is drawn on.
type pngStats struct {
	w, h       int
	inked      float64 // fraction of inner pixels that are not background white
	dark       int     // pixels dark enough to be text or axes
	colourful  int     // saturated pixels: data in colour
	exactColor map[color.RGBA]int
	innerWhite int // pure white pixels in the inner area
}

func readPNG(t *testing.T, path string) pngStats { return readPNGColours(t, path, false) }

// readPNGColours also counts every exact colour when colours is set.
func readPNGColours(t *testing.T, path string, colours bool) pngStats {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	b := img.Bounds()
	st := pngStats{w: b.Dx(), h: b.Dy(), exactColor: map[color.RGBA]int{}}
	inner := image.Rect(b.Min.X+b.Dx()/10, b.Min.Y+b.Dy()/7, b.Min.X+b.Dx()*3/4, b.Max.Y-b.Dy()/8)
	total, inked := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r8, g8, b8 := uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			if colours {
				st.exactColor[color.RGBA{r8, g8, b8, 0xff}]++
			}
			if max(r8, g8, b8) < 90 {
				st.dark++
			}
			if int(max(r8, g8, b8))-int(min(r8, g8, b8)) > 60 {
				st.colourful++
			}
			if (image.Point{X: x, Y: y}).In(inner) {
				total++
				if min(r8, g8, b8) < 235 {
					inked++
				}
				if r8 == 0xff && g8 == 0xff && b8 == 0xff {
					st.innerWhite++
				}
			}
		}
	}
	st.inked = float64(inked) / float64(total)
	return st
}

func figureByFile(t *testing.T, s *Summary, file string) Figure {
	t.Helper()
	for _, f := range s.Figures {
		if f.File == file {
			return f
		}
	}
	t.Fatalf("summary lists no %s (has %v)", file, s.Files)
	return Figure{}
}

func TestReportFixture(t *testing.T) {
	recs := loadFixture(t)
	dir := outDir(t, "fixture")
	sum, err := Report(recs, fixtureSpec(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Every figure is drawn for real from a realistic sweep.
	minInk := map[string]float64{
		"throughput_latency.png": 0.03, "cost_surface.png": 0.5, "iso_cost.png": 0.1, "pareto.png": 0.01,
		"utilization.png": 0.05, "latency_cdf.png": 0.02, "breakdown.png": 0.15,
	}
	for _, file := range allFigures {
		fig := figureByFile(t, sum, file)
		if fig.Placeholder {
			t.Errorf("%s is a placeholder: %s", file, fig.Why)
			continue
		}
		st := readPNG(t, filepath.Join(dir, file))
		if st.w != 960 || st.h < 600 {
			t.Errorf("%s is %dx%d, want 960 wide (8 in at 120 dpi) and at least 600 tall", file, st.w, st.h)
		}
		if st.inked < minInk[file] {
			t.Errorf("%s: only %.1f%% of the plot area is drawn on, want ≥ %.0f%%", file, 100*st.inked, 100*minInk[file])
		}
		if st.colourful < 500 {
			t.Errorf("%s: %d coloured pixels: the data is missing", file, st.colourful)
		}
		if st.dark < 2000 {
			t.Errorf("%s: %d dark pixels: no readable text or axes", file, st.dark)
		}
	}
	// 36 points, sorted by configuration and load.
	if len(sum.Rows) != 36 {
		t.Fatalf("%d rows, want 36", len(sum.Rows))
	}
	if sum.Operating == nil {
		t.Fatal("no operating point chosen from a sweep with feasible points")
	}
	var opRows, failedRows int
	for _, row := range sum.Rows {
		if row.Operating {
			opRows++
			if !row.Feasible || row.P99MS > 5 || row.Throughput < 100000 {
				t.Errorf("operating point %s breaks the constraints: p99 %.2f ms, %.0f/s", row.Label, row.P99MS, row.Throughput)
			}
		}
		if row.Status == results.StatusFailed {
			failedRows++
			if !strings.Contains(row.Reason, "DeadlineExceeded") {
				t.Errorf("failed row reason %q lost the record's reason", row.Reason)
			}
		}
	}
	if opRows != 1 || failedRows != 1 {
		t.Errorf("%d operating rows and %d failed rows, want 1 and 1", opRows, failedRows)
	}
	// The point with a failed first attempt and a good retry counts as ok.
	for _, row := range sum.Rows {
		if row.Point.GPUs == 1 && row.Point.Instances == 1 && row.Point.Clients == 16 && row.Status != results.StatusOK {
			t.Errorf("retried point is %s, want ok", row.Status)
		}
	}
	// The operating point is one that Evaluate finds cheapest among the
	// feasible: no feasible row costs less per million.
	for _, row := range sum.Rows {
		if row.Feasible && row.USDMillion < rowOf(sum, *sum.Operating).USDMillion {
			t.Errorf("%s costs $%.4f/M < operating point's $%.4f/M", row.Label, row.USDMillion, rowOf(sum, *sum.Operating).USDMillion)
		}
	}

	md := readText(t, filepath.Join(dir, "README.md"))
	html := readText(t, filepath.Join(dir, "index.html"))
	for _, file := range allFigures {
		if !strings.Contains(md, "]("+file+")") {
			t.Errorf("README.md does not show %s", file)
		}
		if !strings.Contains(html, `src="`+file+`"`) {
			t.Errorf("index.html does not show %s", file)
		}
	}
	for _, want := range []string{"| point | throughput (inf/s) | p50 (ms) | p99 (ms) | usd/hour | usd per million inferences | feasible | status |",
		"emulated GPUs", "★ gpu=", "Operating point:", "DeadlineExceeded", "## Fit quality", "- throughput: thin-plate spline over", "leave-one-out error"} {
		if !strings.Contains(md, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	if !strings.Contains(html, "<h2>Fit quality</h2>") {
		t.Error("index.html lacks the fit quality")
	}
	if !slices.Contains(sum.Files, "README.md") || !slices.Contains(sum.Files, "index.html") {
		t.Errorf("files written %v lack the documents", sum.Files)
	}
}

func rowOf(s *Summary, p results.Point) Row {
	for _, r := range s.Rows {
		if r.Point == p {
			return r
		}
	}
	return Row{}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigurationColoursConsistent checks that one palette keyed by
// configuration label colours every configuration the same way in every
// figure: each configuration's colour is drawn in the throughput–latency
// curves and in the frontier or utilisation panels that show it.
func TestConfigurationColoursConsistent(t *testing.T) {
	recs := loadFixture(t)
	a, b := newSweep(recs), newSweep(slices.Clone(recs))
	seen := map[color.RGBA]string{}
	for cfg, col := range a.Colors {
		if b.Colors[cfg] != col {
			t.Errorf("%s: colour differs between two reads of the same records", cfg)
		}
		if other, dup := seen[col]; dup {
			t.Errorf("%s and %s share a colour", cfg, other)
		}
		seen[col] = cfg
	}
	if len(a.Colors) != 6 {
		t.Fatalf("%d configurations, want 6 (gpus × instances)", len(a.Colors))
	}
	dir := outDir(t, "colours")
	if _, err := Report(recs, fixtureSpec(), dir, Options{}); err != nil {
		t.Fatal(err)
	}
	tl := readPNGColours(t, filepath.Join(dir, "throughput_latency.png"), true)
	for cfg, col := range a.Colors {
		if tl.exactColor[col] < 50 {
			t.Errorf("throughput_latency.png: %s's colour %v drawn on %d pixels", cfg, col, tl.exactColor[col])
		}
	}
}

// degenerate sweeps must still give a complete report that says what is
// missing.
func TestReportDegenerate(t *testing.T) {
	// Smaller grids keep the test fast where the grid's size is not the point.
	small := func() synthOptions {
		o := defaultSynth()
		o.instances, o.clients = []int{1, 4}, []int{1, 4, 16, 32}
		return o
	}
	oneDim := defaultSynth()
	oneDim.gpus, oneDim.instances = []int{1}, []int{2}
	onePoint := defaultSynth()
	onePoint.gpus, onePoint.instances, onePoint.clients = []int{1}, []int{1}, []int{8}
	allFailed := small()
	allFailed.failAll = true
	noTelemetry := small()
	noTelemetry.telemetry = false
	// Minimal records: throughput and a latency summary only, as a
	// client without histograms, server statistics or telemetry writes.
	minimal := synthSweep(small())
	for i := range minimal {
		if m := minimal[i].Measurement; m != nil {
			m.Histogram, m.Server, m.Telemetry, m.Windows = nil, nil, nil, nil
		}
	}
	simulated := small()
	simulated.source = results.SourceSimulated
	simulated.emulated = false

	cases := []struct {
		name string
		recs []results.Record
		spec cost.Spec
		// placeholders are figures that must explain themselves, with a
		// word their reason must contain.
		placeholders map[string]string
		drawn        []string
		mdWants      []string
	}{
		{
			name: "one_dimension", recs: synthSweep(oneDim), spec: fixtureSpec(),
			drawn:   []string{"throughput_latency.png", "cost_surface.png", "iso_cost.png", "utilization.png", "latency_cdf.png", "breakdown.png"},
			mdWants: []string{"only concurrent clients varies"},
		},
		{
			name: "one_point", recs: synthSweep(onePoint), spec: fixtureSpec(),
			placeholders: map[string]string{"cost_surface.png": "one point", "pareto.png": "required throughput"},
			drawn:        []string{"throughput_latency.png", "iso_cost.png", "utilization.png", "latency_cdf.png", "breakdown.png"},
			mdWants:      []string{"No operating point"},
		},
		{
			name: "all_failed", recs: synthSweep(allFailed), spec: fixtureSpec(),
			placeholders: map[string]string{
				"throughput_latency.png": "all 16 points failed", "cost_surface.png": "failed", "iso_cost.png": "failed",
				"pareto.png": "failed", "utilization.png": "failed", "latency_cdf.png": "failed", "breakdown.png": "failed",
			},
			mdWants: []string{"out of memory", "No operating point"},
		},
		{
			name: "no_telemetry", recs: synthSweep(noTelemetry), spec: fixtureSpec(),
			drawn:   allFigures,
			mdWants: []string{"no GPU telemetry (NVML unavailable: no NVIDIA driver"},
		},
		{
			name: "minimal", recs: minimal, spec: fixtureSpec(),
			placeholders: map[string]string{
				"utilization.png": "no GPU telemetry", "latency_cdf.png": "histogram", "breakdown.png": "server-side statistics",
			},
			drawn: []string{"throughput_latency.png", "cost_surface.png", "iso_cost.png", "pareto.png"},
		},
		{
			name: "simulated", recs: synthSweep(simulated), spec: fixtureSpec(),
			drawn:   allFigures,
			mdWants: []string{"[SIMULATED]"},
		},
		{
			name: "bad_spec", recs: synthSweep(small()), spec: cost.Spec{Constraints: []string{"p99 <= fast"}},
			placeholders: map[string]string{"cost_surface.png": "constraint", "iso_cost.png": "constraint", "pareto.png": "constraint"},
			drawn:        []string{"throughput_latency.png", "utilization.png", "latency_cdf.png", "breakdown.png"},
			mdWants:      []string{"cost could not be evaluated"},
		},
		{
			name: "empty", recs: nil, spec: fixtureSpec(),
			placeholders: map[string]string{"throughput_latency.png": "no point records", "breakdown.png": "no point records"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := outDir(t, tc.name)
			sum, err := Report(tc.recs, tc.spec, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := json.Marshal(sum); err != nil {
				t.Errorf("summary does not encode as JSON: %v", err)
			}
			if len(sum.Figures) != len(allFigures) {
				t.Fatalf("%d figures, want %d", len(sum.Figures), len(allFigures))
			}
			stats := map[string]pngStats{}
			for _, file := range allFigures {
				st := readPNG(t, filepath.Join(dir, file))
				stats[file] = st
				if st.w < 900 || st.h < 550 || st.dark < 500 {
					t.Errorf("%s: %dx%d with %d dark pixels: empty or broken", file, st.w, st.h, st.dark)
				}
			}
			for _, f := range sum.Figures {
				if strings.HasPrefix(f.Why, "drawing failed") {
					t.Errorf("%s: %s", f.File, f.Why)
				}
			}
			for file, word := range tc.placeholders {
				fig := figureByFile(t, sum, file)
				if !fig.Placeholder {
					t.Errorf("%s drawn, want a placeholder saying %q", file, word)
					continue
				}
				if !strings.Contains(fig.Why, word) {
					t.Errorf("%s placeholder says %q, want it to mention %q", file, fig.Why, word)
				}
				if !slices.ContainsFunc(sum.Notes, func(n string) bool { return strings.HasPrefix(n, file) }) {
					t.Errorf("summary notes %v do not mention the skipped %s", sum.Notes, file)
				}
			}
			for _, file := range tc.drawn {
				fig := figureByFile(t, sum, file)
				if fig.Placeholder {
					t.Errorf("%s is a placeholder (%s), want it drawn", file, fig.Why)
					continue
				}
				if st := stats[file]; st.colourful < 200 {
					t.Errorf("%s: %d coloured pixels: no data drawn", file, st.colourful)
				}
			}
			md := readText(t, filepath.Join(dir, "README.md"))
			for _, want := range tc.mdWants {
				if !strings.Contains(md, want) {
					t.Errorf("README.md lacks %q", want)
				}
			}
		})
	}
}

// TestSearchPathAndSurfaceDims checks an adaptive sweep: the surface is
// drawn over the dimensions the spec names and the search path is drawn.
func TestSearchPathAndSurfaceDims(t *testing.T) {
	o := defaultSynth()
	o.gpus = []int{2}
	o.failAt = nil
	o.strategy = "adaptive"
	var recs []results.Record
	// An adaptive search measures a subset, out of grid order.
	keep := []results.Point{}
	for _, c := range []int{1, 8, 32, 16, 4} {
		for _, k := range []int{1, 4, 2} {
			if (c+k)%3 == 0 {
				continue
			}
			keep = append(keep, results.Point{GPUs: 2, Instances: k, Clients: c, BatchSize: 8, Servers: 1})
		}
	}
	for _, r := range synthSweep(o) {
		if r.Kind == results.KindHeader {
			recs = append(recs, r)
			continue
		}
		if i := slices.Index(keep, r.Point); i >= 0 {
			r.Order = i
			recs = append(recs, r)
		}
	}
	spec := fixtureSpec()
	spec.Surface = []string{"instances", "clients"}
	dir := outDir(t, "adaptive")
	sum, err := Report(recs, spec, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fig := figureByFile(t, sum, "cost_surface.png")
	if fig.Placeholder {
		t.Fatalf("cost surface not drawn: %s", fig.Why)
	}
	// The path is drawn in white over the heat map: the same sweep
	// labelled a grid search (no path drawn) has far fewer white pixels
	// inside the plot.
	withPath := readPNG(t, filepath.Join(dir, "cost_surface.png")).innerWhite
	for i := range recs {
		recs[i].Strategy = "grid"
	}
	gridDir := outDir(t, "adaptive_as_grid")
	if _, err := Report(recs, spec, gridDir, Options{}); err != nil {
		t.Fatal(err)
	}
	without := readPNG(t, filepath.Join(gridDir, "cost_surface.png")).innerWhite
	if withPath < without+300 {
		t.Errorf("search path not drawn: %d white pixels with it, %d without", withPath, without)
	}
	r := newReportCtx(recs, spec, Options{}.withDefaults())
	dims, notes := r.surfaceDims()
	if !slices.Equal(dims, []string{"instances", "clients"}) || len(notes) != 0 {
		t.Errorf("surface dims %v (notes %v), want the spec's instances × clients", dims, notes)
	}
	spec.Surface = []string{"instances", "servers"}
	r = newReportCtx(recs, spec, Options{}.withDefaults())
	if dims, notes = r.surfaceDims(); len(notes) != 1 || len(dims) != 2 {
		t.Errorf("unvaried surface dimension: dims %v notes %v, want a fallback and a note", dims, notes)
	}
}

// A figure that panics (gonum/plot panics on some degenerate ranges) is
// turned into an error that Report writes as a placeholder.
func TestSafeDrawRecoversPanic(t *testing.T) {
	r := newReportCtx(nil, fixtureSpec(), Options{}.withDefaults())
	_, err := safeDraw(r, func(*reportCtx, string) (Figure, error) { panic("Values must be greater than 0 for a log scale.") }, "unused.png")
	var de *drawError
	if !errors.As(err, &de) || !strings.Contains(de.msg, "log scale") {
		t.Fatalf("err = %v, want a drawError carrying the panic", err)
	}
}

// A cost that is the same at every point (one node's price, no GPU
// charge) is a flat surface: it must still be drawn, not replaced.
func TestFlatCostSurfaceIsDrawn(t *testing.T) {
	recs := loadFixture(t)
	spec := fixtureSpec()
	spec.Prices = cost.Prices{GPUHour: map[string]float64{"default": 0}, NodeHour: 1}
	spec.Objective = "usd_per_hour"
	spec.Constraints = nil
	sum, err := Report(recs, spec, outDir(t, "flat"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fig := figureByFile(t, sum, "cost_surface.png"); fig.Placeholder {
		t.Fatalf("flat cost surface replaced by a placeholder: %s", fig.Why)
	}
}
