// Package plots draws a sweep's results as a report people can look at:
// PNG figures (throughput–latency curves, the cost surface, iso-cost
// lines, the Pareto frontier, utilisation, latency distributions and the
// server-side breakdown) plus index.html and README.md that show them with
// a summary table. Every figure is drawn even from a degenerate sweep (one
// point, one dimension, failed points, no telemetry): what cannot be drawn
// is said in the figure itself and in the summary.
package plots

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/results"
)

// Options controls the size and look of the report's figures. The zero
// value gives 8×5-inch figures at 120 dpi.
type Options struct {
	// WidthIn and HeightIn are the size of one figure in inches; figures
	// with many rows (breakdown, small multiples) grow taller than HeightIn.
	WidthIn, HeightIn float64
	// DPI is the resolution of the PNGs.
	DPI int
	// Surface overrides spec.Surface: the two dimensions of the
	// cost-surface figure.
	Surface []string
	// GridSteps is the resolution of the cost-surface grid per axis
	// (default 60).
	GridSteps int
	// Logger receives a line per figure; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.WidthIn <= 0 {
		o.WidthIn = 8
	}
	if o.HeightIn <= 0 {
		o.HeightIn = 5
	}
	if o.DPI <= 0 {
		o.DPI = 120
	}
	if o.GridSteps <= 1 {
		o.GridSteps = 60
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Figure is one PNG of the report.
type Figure struct {
	File    string // file name inside outDir, e.g. "pareto.png"
	Title   string
	Caption string // one sentence on how to read it
	// Placeholder is true when the PNG only explains why the figure could
	// not be drawn (Why says it).
	Placeholder bool
	Why         string
	Notes       []string // what the figure left out (failed points, clipped values)
}

// Row is one line of the summary table. Figures are zero where unknown
// (a failed point; cost not evaluated), never NaN, so a Summary encodes
// as JSON.
type Row struct {
	Point      results.Point
	Label      string // the point's varied coordinates, e.g. "gpu=2 inst=4 cli=16"
	Status     results.Status
	Reason     string  // why the point failed
	Throughput float64 // inferences/s (median over trials)
	P50MS      float64
	P99MS      float64
	CostKnown  bool // USDHour and USDMillion hold the cost package's expense
	USDHour    float64
	USDMillion float64 // USD per million inferences
	Feasible   bool
	Violations []string // constraints broken, e.g. "p99 6.77ms > 5ms"
	Operating  bool     // the chosen operating point
}

// Summary is what Report wrote.
type Summary struct {
	Dir     string
	Figures []Figure // in report order, placeholders included
	Files   []string // every file written, relative to Dir
	Notes   []string // what was skipped and why
	Rows    []Row
	// Operating is the chosen operating point; nil when none is feasible
	// or cost could not be evaluated.
	Operating *results.Point
	Objective string
}

// figureFunc draws one figure into path and describes it.
type figureFunc func(r *reportCtx, path string) (Figure, error)

// Report draws every figure of recs into outDir (created if needed) and
// writes index.html and README.md beside them. Only an unusable outDir or
// a failed write is an error: degenerate data gives placeholder figures
// and notes, never a missing report.
func Report(recs []results.Record, spec cost.Spec, outDir string, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("report directory: %w", err)
	}
	r := newReportCtx(recs, spec, opts)
	sum := &Summary{Dir: outDir, Objective: r.objective}
	sum.Notes = append(sum.Notes, r.notes...)

	figs := []struct {
		file string
		fn   figureFunc
	}{
		{"throughput_latency.png", drawThroughputLatency},
		{"cost_surface.png", drawCostSurface},
		{"iso_cost.png", drawIsoCost},
		{"pareto.png", drawPareto},
		{"utilization.png", drawUtilization},
		{"latency_cdf.png", drawLatencyCDF},
		{"breakdown.png", drawBreakdown},
	}
	for _, f := range figs {
		path := filepath.Join(outDir, f.file)
		fig, err := safeDraw(r, f.fn, path)
		if err != nil {
			var drawErr *drawError
			if !errors.As(err, &drawErr) {
				return sum, err
			}
			// A bug in one figure must not cost the whole report: say so
			// in a placeholder and go on.
			opts.Logger.Error("figure failed", "file", f.file, "err", err)
			fig = Figure{File: f.file, Title: f.file, Placeholder: true, Why: "drawing failed: " + drawErr.msg}
			if err := r.placeholder(path, f.file, fig.Why); err != nil {
				return sum, err
			}
		}
		fig.File = f.file
		if fig.Placeholder {
			sum.Notes = append(sum.Notes, fmt.Sprintf("%s: %s", f.file, fig.Why))
		}
		for _, n := range fig.Notes {
			sum.Notes = append(sum.Notes, fmt.Sprintf("%s: %s", f.file, n))
		}
		opts.Logger.Info("figure", "file", f.file, "placeholder", fig.Placeholder)
		sum.Figures = append(sum.Figures, fig)
		sum.Files = append(sum.Files, f.file)
	}
	sum.Rows = r.rows()
	if r.operating != nil {
		p := r.operating.Point
		sum.Operating = &p
	}
	for _, doc := range []struct {
		name  string
		write func(*Summary, *reportCtx) []byte
	}{{"index.html", renderHTML}, {"README.md", renderMarkdown}} {
		if err := os.WriteFile(filepath.Join(outDir, doc.name), doc.write(sum, r), 0o644); err != nil {
			return sum, fmt.Errorf("write %s: %w", doc.name, err)
		}
		sum.Files = append(sum.Files, doc.name)
	}
	return sum, nil
}

// drawError is a figure that panicked while drawing: gonum/plot panics on
// some degenerate ranges, and one bad figure must not lose the report.
type drawError struct{ msg string }

func (e *drawError) Error() string { return e.msg }

func safeDraw(r *reportCtx, fn figureFunc, path string) (fig Figure, err error) {
	defer func() {
		if v := recover(); v != nil {
			r.opts.Logger.Debug("figure panic", "stack", string(debug.Stack()))
			err = &drawError{msg: fmt.Sprint(v)}
		}
	}()
	return fn(r, path)
}

// placeholder writes a PNG that says why a figure is missing.
func (r *reportCtx) placeholder(path, title, why string) error {
	f := newFigure(r.opts, r.opts.HeightIn)
	c := f.header(title+r.sw.tag(), r.sw.provenance())
	message(c, why)
	return f.save(path)
}

// placeholderFigure writes a placeholder and returns its description.
func (r *reportCtx) placeholderFigure(path, title, what, why string) (Figure, error) {
	err := r.placeholder(path, title, "No "+what+": "+why)
	return Figure{Title: title, Placeholder: true, Why: why}, err
}
