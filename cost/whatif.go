package cost

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/iaasbench/iaasbench/results"
)

// Analysis is a results file seen through one cost function: every
// recorded point re-evaluated, the operating point, the frontier, the
// fitted surfaces' quality and the best unmeasured configuration. It
// reads records only: changing prices, constraints or the objective
// needs no new measurement.
type Analysis struct {
	Spec      Spec // canonical (see Spec.Canonical)
	Evaluated []Evaluated
	Operating OperatingPoint
	// Points, Usable and Feasible count distinct points: all, those with
	// a usable trial, and those meeting every constraint.
	Points, Usable, Feasible int
	// Exclusions says, per constraint in the order given, how many usable
	// points break it (a point may break several).
	Exclusions []Exclusion
	// GridSize is the number of points of the grid searched for an
	// unmeasured prediction.
	GridSize int
	// Frontier is the Pareto frontier of p99 against FrontierOf among the
	// points that meet the throughput and data-rate constraints:
	// FrontierOf is the objective when it is a single figure other than
	// p99 (what the choice trades latency for), else usd_per_hour.
	Frontier   []Evaluated
	FrontierOf string
}

// Exclusion is how many usable points one constraint rules out.
type Exclusion struct {
	Constraint string // as written
	Excluded   int
	// Unmeasured counts the excluded points that lack the figure
	// altogether (e.g. no GPU memory recorded).
	Unmeasured int
}

// Analyze evaluates the point records of recs under spec and chooses the
// operating point; grid is every configuration the sweep could have
// measured (the scenario's Points), nil for the measured ones only. It is
// an error only when the spec is invalid or the records unreadable.
func Analyze(recs []results.Record, grid []results.Point, spec Spec) (*Analysis, error) {
	canon, err := spec.canonical()
	if err != nil {
		return nil, err
	}
	pl, err := spec.plan()
	if err != nil {
		return nil, err
	}
	points := results.Points(recs)
	evals, err := Evaluate(points, spec)
	if err != nil {
		return nil, err
	}
	if grid == nil {
		grid = MeasuredGrid(points)
	}
	op, err := Choose(evals, grid, spec)
	if err != nil {
		return nil, err
	}
	a := &Analysis{Spec: canon, Evaluated: evals, Operating: op, Points: len(evals), GridSize: len(grid), FrontierOf: "usd_per_hour"}
	if o := pl.objective; o != "weighted" && o != "p99" {
		a.FrontierOf = o
	}
	var demanded []Evaluated
	for _, ev := range evals {
		if ev.Status != results.StatusFailed && meetsDemand(pl, ev.Figures) {
			demanded = append(demanded, ev)
		}
	}
	a.Frontier = Pareto(demanded, "p99", a.FrontierOf)
	for _, c := range pl.constraints {
		a.Exclusions = append(a.Exclusions, Exclusion{Constraint: c.Text})
	}
	for _, ev := range evals {
		if ev.Status == results.StatusFailed {
			continue
		}
		a.Usable++
		if ev.Feasible {
			a.Feasible++
		}
		for i, c := range pl.constraints {
			v, ok := ev.Figures[c.Figure]
			switch {
			case !ok || math.IsNaN(v):
				a.Exclusions[i].Excluded++
				a.Exclusions[i].Unmeasured++
			case !c.Met(v):
				a.Exclusions[i].Excluded++
			}
		}
	}
	return a, nil
}

// Infeasible returns an error when no measured point meets the
// constraints, naming the constraint that excludes the most points; nil
// when some point is feasible.
func (a *Analysis) Infeasible() error {
	if a.Operating.Best != nil {
		return nil
	}
	if a.Usable == 0 {
		return fmt.Errorf("no usable point: %s", a.Operating.Reason)
	}
	ex := slices.Clone(a.Exclusions)
	sort.SliceStable(ex, func(i, j int) bool { return ex[i].Excluded > ex[j].Excluded })
	if len(ex) == 0 {
		return fmt.Errorf("no point can be chosen: %s", a.Operating.Reason)
	}
	w := ex[0]
	msg := fmt.Sprintf("no point meets the constraints: %q excludes %d of %d usable points, the most of any constraint", w.Constraint, w.Excluded, a.Usable)
	if w.Unmeasured > 0 {
		msg += fmt.Sprintf(" (%d of them lack the figure altogether)", w.Unmeasured)
	}
	return fmt.Errorf("%s; %s", msg, a.Operating.Reason)
}

// label names a point by the dimensions the analysis varies.
func (a *Analysis) label(p results.Point) string {
	dims := VariedDims(a.Evaluated)
	if len(dims) == 0 {
		return p.Key()
	}
	parts := make([]string, 0, len(dims))
	for _, d := range dims {
		v, err := p.Coord(d)
		if err != nil {
			continue
		}
		parts = append(parts, d+"="+formatNumber(v))
	}
	for _, f := range results.CategoricalFields(usablePoints(a.Evaluated)) {
		if v, ok := p.ConfigValue(f); ok {
			parts = append(parts, f+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// WriteText prints the analysis for a terminal: the cost function, how
// many points are feasible and what excludes the others, the operating
// point, the Pareto frontier, the fit quality and the best unmeasured
// configuration.
func (a *Analysis) WriteText(w io.Writer) {
	s := a.Spec
	fmt.Fprintf(w, "prices: %s\n", PricesText(s.Prices))
	cons := "none"
	if len(s.Constraints) > 0 {
		cons = strings.Join(s.Constraints, ", ")
	}
	fmt.Fprintf(w, "constraints: %s\n", cons)
	fmt.Fprintf(w, "objective: %s\n", objectiveText(s))
	fmt.Fprintf(w, "feasible: %d of %d usable points (%d measured)\n", a.Feasible, a.Usable, a.Points)
	for _, e := range a.Exclusions {
		line := fmt.Sprintf("  %-28s excludes %d", e.Constraint, e.Excluded)
		if e.Unmeasured > 0 {
			line += fmt.Sprintf(" (%d without the figure)", e.Unmeasured)
		}
		fmt.Fprintln(w, line)
	}
	a.writeOperating(w)
	a.writeFrontier(w)
	WriteFitQuality(w, a.Operating)
	switch op := a.Operating; {
	case op.Predicted != nil:
		worse := ""
		if op.Best != nil && op.Predicted.Cost >= op.Best.Cost {
			worse = " (no better than the best measured point)"
		}
		fmt.Fprintf(w, "best unmeasured (predicted): %s%s\n", a.label(op.Predicted.Point), worse)
		fmt.Fprintf(w, "  %s; predicted %s\n", op.Suggestion, figuresText(op.Predicted.Figures))
		if poorFit(op) {
			fmt.Fprintln(w, "  the surfaces fit poorly (see fit quality): measure before believing it")
		}
	case a.GridSize > 0 && a.GridSize <= a.Points:
		fmt.Fprintf(w, "best unmeasured: none left: all %d points of the grid were measured\n", a.GridSize)
	case op.FitNote != "":
		fmt.Fprintf(w, "best unmeasured: not predicted (%s)\n", op.FitNote)
	default:
		fmt.Fprintf(w, "best unmeasured: no unmeasured point of the grid (%d points) is predicted to meet the constraints\n", a.GridSize)
	}
}

func (a *Analysis) writeOperating(w io.Writer) {
	op := a.Operating
	if op.Best == nil {
		fmt.Fprintf(w, "operating point: none (%s)\n", op.Reason)
		return
	}
	b := op.Best
	fmt.Fprintf(w, "operating point: %s\n", a.label(b.Point))
	fmt.Fprintf(w, "  %s; %s\n", figuresText(b.Figures), op.Reason)
}

func (a *Analysis) writeFrontier(w io.Writer) {
	fr := a.Frontier
	if len(fr) == 0 {
		fmt.Fprintf(w, "Pareto frontier (p99 against %s): no point has both figures\n", a.FrontierOf)
		return
	}
	fmt.Fprintf(w, "Pareto frontier (p99 against %s, %d %s meeting the throughput and data-rate constraints):\n", a.FrontierOf, len(fr), plural(len(fr), "point", "points"))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	cols := []string{"p99", a.FrontierOf, "throughput", "usd_per_hour", "usd_per_million"}
	cols = slices.Compact(append(cols[:2], slices.DeleteFunc(cols[2:], func(c string) bool { return c == a.FrontierOf })...))
	fmt.Fprint(tw, " ")
	for _, c := range cols {
		fmt.Fprintf(tw, " %s\t", c)
	}
	fmt.Fprintln(tw, "feasible\t")
	for _, ev := range fr {
		mark := "no"
		if ev.Feasible {
			mark = "yes"
		}
		fmt.Fprint(tw, " ")
		for _, c := range cols {
			fmt.Fprintf(tw, " %s\t", formatFigure(c, ev.Figures[c]))
		}
		fmt.Fprintf(tw, "%s\t  %s\n", mark, a.label(ev.Point))
	}
	tw.Flush()
}

// WriteFitQuality prints the quality of an operating point's fitted
// surfaces, one line per figure: what the sweep summary and the report
// show under the operating point.
func WriteFitQuality(w io.Writer, op OperatingPoint) {
	if len(op.Quality) == 0 {
		why := op.FitNote
		if why == "" {
			why = "no surface was fitted"
		}
		fmt.Fprintf(w, "fit quality: %s\n", why)
		return
	}
	over := "no varied dimension (constant)"
	if len(op.Dims) > 0 {
		over = strings.Join(op.Dims, ", ")
	}
	fmt.Fprintf(w, "fit quality (leave-one-out error of each surface over %s):\n", over)
	for _, q := range op.Quality {
		fmt.Fprintf(w, "  %-16s %s\n", q.Figure, FitQualityText(q))
	}
}

// FitQualityText describes one surface's fit, e.g. "thin-plate spline
// over 12 points, leave-one-out error 8.3% (good)".
func FitQualityText(q FitQuality) string {
	s := fmt.Sprintf("%s over %d points, ", q.Method, q.N)
	if math.IsNaN(q.LOO) {
		return s + "leave-one-out error unknown (fewer than 2 points)"
	}
	return s + "leave-one-out error " + strconv.FormatFloat(100*q.LOO, 'f', 1, 64) + "% (" + fitGrade(q.LOO) + ")"
}

// Grades of a leave-one-out error: within 10% a prediction is as good as
// a repeat measurement of a noisy point usually is; past 30% it is a
// guess.
func fitGrade(loo float64) string {
	switch {
	case loo <= 0.10:
		return "good"
	case loo <= 0.30:
		return "fair"
	}
	return "poor: predictions from it are guesses"
}

// poorFit reports whether a surface the prediction leans on is a guess.
func poorFit(op OperatingPoint) bool {
	for _, q := range op.Quality {
		if q.LOO > 0.30 {
			return true
		}
	}
	return false
}

// ExtendGrid returns grid plus, along each of dims where the grid has at
// least two values, one step past its largest value (the last ratio for
// positive values, else the last difference; integers rounded), crossed
// with every other coordinate of the grid: where the cost surface may
// find a cheaper point the sweep did not reach. Such points are
// extrapolations, and Choose says so.
func ExtendGrid(grid []results.Point, dims []string) []results.Point {
	out := slices.Clone(grid)
	seen := map[string]bool{}
	for _, p := range grid {
		seen[p.Key()] = true
	}
	for _, d := range dims {
		var vs []float64
		for _, p := range grid {
			if v, err := p.Coord(d); err == nil && !slices.Contains(vs, v) {
				vs = append(vs, v)
			}
		}
		if len(vs) < 2 {
			continue
		}
		sort.Float64s(vs)
		last, prev := vs[len(vs)-1], vs[len(vs)-2]
		next := last + (last - prev)
		if prev > 0 {
			next = last * last / prev
		}
		for _, p := range grid {
			if v, _ := p.Coord(d); v != last {
				continue
			}
			q, ok := withDimension(p, d, next)
			if ok && !seen[q.Key()] {
				seen[q.Key()] = true
				out = append(out, q)
			}
		}
	}
	return out
}

// withDimension returns p with one of results.Dimensions set to v (whole
// numbers for the integer ones); model-config fields are not extended.
func withDimension(p results.Point, dim string, v float64) (results.Point, bool) {
	n := int(math.Round(v))
	switch dim {
	case "gpus":
		p.GPUs = n
	case "instances":
		p.Instances = n
	case "clients":
		p.Clients = n
	case "batch_size":
		p.BatchSize = n
	case "servers":
		p.Servers = n
	case "rate":
		p.Rate = v
	default:
		return p, false
	}
	return p, true
}

// objectiveText says what the spec minimises.
func objectiveText(s Spec) string {
	o := s.Objective
	if o == "" {
		o = DefaultObjective
	}
	if o != "weighted" {
		if HigherBetter(o) {
			return "maximise " + o
		}
		return "minimise " + o
	}
	names := make([]string, 0, len(s.Weights))
	for _, f := range slices.Sorted(maps.Keys(s.Weights)) {
		names = append(names, fmt.Sprintf("%s %+.3g", f, s.Weights[f]))
	}
	return "minimise weighted cost (" + strings.Join(names, ", ") + ")"
}

// figuresText is the headline figures of a point.
func figuresText(f map[string]float64) string {
	var parts []string
	for _, name := range []string{"throughput", "p99", "usd_per_hour", "usd_per_million", "gpu_used_memory"} {
		if v, ok := f[name]; ok {
			parts = append(parts, name+" "+formatFigure(name, v))
		}
	}
	return strings.Join(parts, ", ")
}

// PricesText writes prices on one line, e.g. "gpu_hour emulated $2.5,
// node_hour $0.5".
func PricesText(p Prices) string {
	var parts []string
	if len(p.GPUHour) > 0 {
		gh, err := p.gpuHour()
		typ := p.GPUType
		if typ == "" {
			typ = "default"
		}
		if err == nil {
			parts = append(parts, fmt.Sprintf("gpu_hour %s $%s", typ, formatNumber(gh)))
		}
	}
	parts = append(parts, "node_hour $"+formatNumber(p.NodeHour))
	if p.PerMillionRequests > 0 {
		parts = append(parts, "per_million_requests $"+formatNumber(p.PerMillionRequests))
	}
	if p.EgressPerGB > 0 {
		parts = append(parts, fmt.Sprintf("egress_per_gb $%s × %s B/inference", formatNumber(p.EgressPerGB), formatNumber(p.EgressBytesPerInference)))
	}
	return strings.Join(parts, ", ")
}

// SetPrice sets one price by key, as `iaasbench cost --price KEY=VALUE`
// takes it: gpu_hour (the price of gpu_type's GPU), gpu_hour.TYPE,
// node_hour, per_million_requests, egress_per_gb,
// egress_bytes_per_inference. The value is a number of USD (a leading $
// is allowed) or bytes.
func (p *Prices) SetPrice(key, value string) error {
	v, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(value), "$"), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("price %s=%s: want a number >= 0", key, value)
	}
	switch {
	case key == "gpu_hour" || strings.HasPrefix(key, "gpu_hour."):
		typ := strings.TrimPrefix(strings.TrimPrefix(key, "gpu_hour"), ".")
		if typ == "" {
			typ = p.GPUType
			if typ == "" {
				typ = "default"
			}
		}
		g := make(map[string]float64, len(p.GPUHour)+1)
		for k, x := range p.GPUHour {
			g[k] = x
		}
		g[typ] = v
		p.GPUHour = g
	case key == "node_hour":
		p.NodeHour = v
	case key == "per_million_requests":
		p.PerMillionRequests = v
	case key == "egress_per_gb":
		p.EgressPerGB = v
	case key == "egress_bytes_per_inference":
		p.EgressBytesPerInference = v
	default:
		return fmt.Errorf("price %q: want gpu_hour, gpu_hour.TYPE, node_hour, per_million_requests, egress_per_gb or egress_bytes_per_inference", key)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
