package scenarios

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/workload"
)

// MaxPoints is the most points a scenario's full grid may hold.
const MaxPoints = 1000000

// validator collects problems located by the lines the decoder recorded.
type validator struct {
	s        *Scenario
	problems Problems
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.s.file, Line: v.s.lineOf(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// lineOf returns the line of a field path, or of its nearest written
// ancestor (a missing field is reported where its parent is).
func (s *Scenario) lineOf(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func oneOf(got string, valid ...string) bool { return slices.Contains(valid, got) }

func (v *validator) enum(field, got string, valid ...string) {
	if !oneOf(got, valid...) {
		v.add(field, "want one of %s, got %q", strings.Join(valid, ", "), got)
	}
}

func (v *validator) nonNegative(field string, x float64) {
	if x < 0 || math.IsNaN(x) {
		v.add(field, "must not be negative, got %s", fmtFloat(x))
	}
}

// Validate checks the scenario and returns Problems listing everything
// wrong, each naming its field (and line, for a parsed scenario), or nil.
func (s *Scenario) Validate() error {
	v := &validator{s: s}
	if strings.TrimSpace(s.Name) == "" {
		v.add("name", "must not be empty")
	}
	v.target()
	v.workload()
	v.connection()
	v.dimensions()
	v.server()
	v.measure()
	v.search()
	v.cost()
	v.gate()
	if s.Agents < 0 {
		v.add("agents", "must not be negative, got %d", s.Agents)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return v.problems.sorted()
}

func (v *validator) target() {
	t := v.s.Target
	v.enum("target.kind", t.Kind, TargetEmbedded, TargetRemote, TargetLocal, TargetKubernetes, TargetSimulated)
	if t.Kind == TargetRemote && len(t.URLs) == 0 {
		v.add("target.urls", "a remote target needs the address of at least one server (host:port, grpcs://host:port, http://host:port, https://host/prefix)")
	}
	if len(t.URLs) > 0 && (t.Kind == TargetEmbedded || t.Kind == TargetSimulated) {
		v.add("target.urls", "not used by a %s target (did you mean kind: remote?)", t.Kind)
	}
	for i, u := range t.URLs {
		if strings.TrimSpace(u) == "" {
			v.add(fmt.Sprintf("target.urls[%d]", i), "must not be empty")
		}
	}
	if len(t.MetricsURLs) > 0 && t.Kind != TargetRemote {
		v.add("target.metrics_urls", "only a remote target needs them: iaasbench finds the metrics of the servers it starts")
	}
	if len(t.MetricsURLs) > len(t.URLs) && t.Kind == TargetRemote {
		v.add("target.metrics_urls", "%d metrics URLs for %d servers: give one per server, in the order of target.urls", len(t.MetricsURLs), len(t.URLs))
	}
	for i, u := range t.MetricsURLs {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			v.add(fmt.Sprintf("target.metrics_urls[%d]", i), "want a URL such as http://host:8002/metrics, got %q", u)
		}
	}
	if t.Tritonserver != "" && t.Kind != TargetLocal {
		v.add("target.tritonserver", "only a local target starts tritonserver (target.kind is %s)", t.Kind)
	}
	if t.Repo != "" && t.Kind == TargetRemote {
		v.add("target.repo", "a remote server loads its own model repository")
	}
	if t.Kind == TargetKubernetes {
		if err := t.Kubernetes.WithDefaults(v.s.Name).Validate(); err != nil {
			v.add("target.kubernetes", "%v", err)
		}
	}
}

func (v *validator) workload() {
	w := v.s.Workload
	if strings.TrimSpace(w.Model) == "" {
		v.add("workload.model", "required: the name of the model to serve (e.g. mlp, calibrated, end-to-end, stream-e2e)")
	}
	v.enum("workload.mode", w.Mode, workload.ModeClosed, workload.ModeOpen)
	v.enum("workload.rpc", w.RPC, workload.RPCUnary, workload.RPCStream)
	if w.Arrival != "" {
		v.enum("workload.arrival", w.Arrival, workload.ArrivalConstant, workload.ArrivalPoisson, workload.ArrivalFrames)
		if w.Mode != workload.ModeOpen {
			v.add("workload.arrival", "only applies in open loop (mode: open); a closed loop sends when each request returns")
		}
	}
	if w.Stream.SampleRateHz <= 0 {
		v.add("workload.stream.sample_rate_hz", "must be > 0, got %d", w.Stream.SampleRateHz)
	}
	if !(w.Stream.KernelS > 0) {
		v.add("workload.stream.kernel_s", "must be > 0, got %s", fmtFloat(w.Stream.KernelS))
	}
	if w.Stream.Channels <= 0 {
		v.add("workload.stream.channels", "must be > 0, got %d", w.Stream.Channels)
	}
	v.nonNegative("workload.data_seconds", w.DataSeconds)
	if w.DataSeconds > 0 {
		if w.Mode != workload.ModeClosed {
			v.add("workload.data_seconds", "a fixed amount of data is processed as fast as possible: needs mode: closed")
		}
		if !w.Sequence {
			v.add("workload.data_seconds", "needs a stream workload (sequence: true)")
		}
		if v.s.Measure.Duration > 0 || v.s.Measure.Requests > 0 {
			v.add("workload.data_seconds", "fixes the amount measured: leave out measure.duration and measure.requests")
		}
	}
	// Each request of a stream carries fs/r new samples: r must divide fs.
	if (w.Sequence || w.Arrival == workload.ArrivalFrames) && w.Stream.SampleRateHz > 0 {
		rates, err := v.s.Dimensions.Rate.Expand()
		if err == nil {
			for _, r := range rates {
				q := float64(w.Stream.SampleRateHz) / r
				if r <= 0 || q < 1 || math.Abs(q-math.Round(q)) > 1e-9 {
					v.add("dimensions.rate", "rate %s does not give a whole number of samples per request (sample_rate_hz %d / rate = %s): pick r dividing %d",
						fmtFloat(r), w.Stream.SampleRateHz, fmtFloat(q), w.Stream.SampleRateHz)
					break
				}
			}
		}
	}
}

func (v *validator) dimensions() {
	for _, sp := range dimensionSpecs {
		field := "dimensions." + sp.name
		vals := v.s.Dimensions.values(sp.name)
		xs, err := vals.Expand()
		if err != nil {
			v.add(field, "%s", err.Error())
			continue
		}
		for i, x := range xs {
			at := field
			if vals.Range == nil {
				at = fmt.Sprintf("%s[%d]", field, i)
			}
			switch {
			case sp.integer && x != math.Trunc(x):
				v.add(at, "must be a whole number, got %s", fmtFloat(x))
			case x < sp.min:
				if sp.min > 0 && sp.min < 1 {
					v.add(at, "must be > 0, got %s", fmtFloat(x))
				} else {
					v.add(at, "must be at least %s, got %s", fmtFloat(sp.min), fmtFloat(x))
				}
			case x > sp.max:
				v.add(at, "must be at most %s, got %s", fmtFloat(sp.max), fmtFloat(x))
			default:
				continue
			}
			break // one problem per dimension is enough
		}
	}
	v.modelConfigs()
	if n := v.s.gridSize(); n > MaxPoints {
		v.add("dimensions", "the grid has %s points, more than %d: narrow the ranges", fmtFloat(n), MaxPoints)
	}
	gpus, err := v.s.Dimensions.GPUs.Expand()
	if err == nil && v.s.Target.Kind == TargetEmbedded && slices.ContainsFunc(gpus, func(x float64) bool { return x > 0 }) &&
		v.s.Server.EmulatedGPUProfile == "" && v.s.Workload.Model != "calibrated" {
		// The calibrated model's configured time is its device time; any
		// other model needs a profile to hold an emulated GPU.
		v.add("dimensions.gpus", "the embedded server has only emulated GPUs: set server.emulated_gpu_profile (e.g. h200-mlp)")
	}
}

func (v *validator) server() {
	sv := v.s.Server
	if sv.MaxQueueDelayUS < 0 {
		v.add("server.max_queue_delay_us", "must not be negative, got %d", sv.MaxQueueDelayUS)
	}
	if sv.MaxQueueSize < 0 {
		v.add("server.max_queue_size", "must not be negative, got %d", sv.MaxQueueSize)
	}
	for i, b := range sv.PreferredBatchSize {
		if b < 1 {
			v.add(fmt.Sprintf("server.preferred_batch_size[%d]", i), "must be at least 1, got %d", b)
		}
	}
	if !sv.DynamicBatching {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"max_queue_delay_us", sv.MaxQueueDelayUS != 0},
			{"preferred_batch_size", len(sv.PreferredBatchSize) > 0},
			{"max_queue_size", sv.MaxQueueSize != 0},
		} {
			if f.set {
				v.add("server."+f.name, "has no effect without dynamic_batching: true")
			}
		}
	}
	if sv.EmulatedGPUProfile != "" && !oneOf(v.s.Target.Kind, TargetEmbedded, TargetSimulated) {
		v.add("server.emulated_gpu_profile", "only the embedded server and the simulator emulate GPUs (target.kind is %s)", v.s.Target.Kind)
	}
	c := sv.Calibrated
	v.nonNegative("server.calibrated.base_us", c.BaseUS)
	v.nonNegative("server.calibrated.per_item_us", c.PerItemUS)
	if c.Jitter < 0 || c.Jitter > 1 || math.IsNaN(c.Jitter) {
		v.add("server.calibrated.jitter", "must be a fraction in [0, 1], got %s", fmtFloat(c.Jitter))
	}
}

func (v *validator) measure() {
	m := v.s.Measure
	if m.Warmup < 0 {
		v.add("measure.warmup", "must not be negative, got %s", m.Warmup)
	}
	if m.Window <= 0 {
		v.add("measure.window", "must be > 0, got %s", m.Window)
	}
	if !(m.StabilityTolerance > 0 && m.StabilityTolerance <= 1) {
		v.add("measure.stability_tolerance", "must be a fraction in (0, 1], e.g. 0.1 for 10%%; got %s", fmtFloat(m.StabilityTolerance))
	}
	if m.StableWindows < 1 {
		v.add("measure.stable_windows", "must be at least 1, got %d", m.StableWindows)
	}
	if m.MaxWindows < m.StableWindows {
		v.add("measure.max_windows", "must be at least stable_windows (%d), got %d", m.StableWindows, m.MaxWindows)
	}
	if m.Duration < 0 {
		v.add("measure.duration", "must not be negative, got %s", m.Duration)
	}
	if m.Requests < 0 {
		v.add("measure.requests", "must not be negative, got %d", m.Requests)
	}
	if m.Duration > 0 && m.Requests > 0 {
		v.add("measure.requests", "give duration or requests, not both")
	}
	if m.Trials < 1 {
		v.add("measure.trials", "must be at least 1, got %d", m.Trials)
	}
	if m.Timeout < 0 {
		v.add("measure.timeout", "must not be negative, got %s", m.Timeout)
	}
	if m.Timeout > 0 && m.Duration > 0 && m.Timeout <= m.Warmup+m.Duration {
		v.add("measure.timeout", "%s would cut every point short: warmup + duration is %s", m.Timeout, m.Warmup+m.Duration)
	}
}

func (v *validator) search() {
	sr := v.s.Search
	v.enum("search.strategy", sr.Strategy, StrategyGrid, StrategyAdaptive)
	if sr.BudgetPoints < 0 {
		v.add("search.budget_points", "must not be negative, got %d", sr.BudgetPoints)
	}
	if sr.BudgetTime < 0 {
		v.add("search.budget_time", "must not be negative, got %s", sr.BudgetTime)
	}
	v.nonNegative("search.min_improvement", sr.MinImprovement)
}

func (v *validator) cost() {
	c := v.s.Cost
	p := c.Prices
	for _, k := range slices.Sorted(maps.Keys(p.GPUHour)) {
		x := p.GPUHour[k]
		if strings.TrimSpace(k) == "" {
			v.add("cost.prices.gpu_hour", "GPU type names must not be empty")
		}
		v.nonNegative("cost.prices.gpu_hour."+k, x)
	}
	if p.GPUType != "" && len(p.GPUHour) > 0 {
		if _, ok := p.GPUHour[p.GPUType]; !ok {
			if _, ok := p.GPUHour["default"]; !ok {
				v.add("cost.prices.gpu_type", "%q has no price in gpu_hour and there is no \"default\"", p.GPUType)
			}
		}
	}
	// Every number in Prices is a charge or a size: none may be negative.
	pv := reflect.ValueOf(p)
	for _, f := range yamlFields(pv.Type()) {
		if fv := pv.Field(f.index); fv.Kind() == reflect.Float64 {
			v.nonNegative("cost.prices."+f.name, fv.Float())
		}
	}
	// Constraints, objectives and weights are parsed here, so that a
	// misspelt figure fails `scenarios check` rather than the end of a
	// sweep.
	for i, con := range c.Constraints {
		field := fmt.Sprintf("cost.constraints[%d]", i)
		if strings.TrimSpace(con) == "" {
			v.add(field, "must not be empty (e.g. \"p99 <= 50ms\")")
			continue
		}
		parsed, err := cost.ParseConstraint(con)
		if err != nil {
			v.add(field, "%v", err)
			continue
		}
		if strings.HasPrefix(parsed.Figure, "gpu_") && strings.HasSuffix(parsed.Figure, "_memory") && v.s.Target.Kind == TargetEmbedded && !v.s.anyGPU() {
			v.add(field, "%s is not recorded on the embedded server without GPUs (dimensions.gpus is 0 everywhere): every point would fail this constraint", parsed.Figure)
		}
	}
	switch {
	case c.Objective == "weighted" && len(c.Weights) == 0:
		v.add("cost.weights", "objective weighted needs weights (figure: weight)")
	case c.Objective != "" && c.Objective != "weighted" && !cost.IsFigure(c.Objective):
		v.add("cost.objective", "unknown figure %q%s, or \"weighted\"", c.Objective, suggest(c.Objective, figureNames()))
	case len(c.Weights) > 0 && c.Objective != "weighted" && len(c.Objectives) == 0:
		v.add("cost.weights", "weights are set but objective is %q, not \"weighted\" (or give Model Analyzer's objectives: {figure: weight})", c.Objective)
	}
	for _, f := range slices.Sorted(maps.Keys(c.Weights)) {
		if !cost.IsFigure(f) {
			v.add("cost.weights."+f, "unknown figure%s", suggest(f, figureNames()))
		}
	}
	if len(c.Objectives) > 0 && (c.Objective != "" || len(c.Weights) > 0) {
		v.add("cost.objectives", "give objectives (Model Analyzer's form) or objective and weights, not both")
	}
	for _, f := range slices.Sorted(maps.Keys(c.Objectives)) {
		switch w := c.Objectives[f]; {
		case !cost.IsFigure(f):
			v.add("cost.objectives."+f, "unknown figure%s", suggest(f, figureNames()))
		case !(w > 0):
			v.add("cost.objectives."+f, "weight must be > 0, got %s (the direction comes from the figure)", fmtFloat(w))
		}
	}
	if len(c.Surface) > 2 {
		v.add("cost.surface", "names two dimensions, got %d", len(c.Surface))
	}
	dims := v.s.dimensionNames()
	for i, dim := range c.Surface {
		if !slices.Contains(dims, dim) {
			v.add(fmt.Sprintf("cost.surface[%d]", i), "unknown dimension %q%s", dim, suggest(dim, dims))
		} else if slices.Index(c.Surface, dim) < i {
			v.add(fmt.Sprintf("cost.surface[%d]", i), "%q is named twice", dim)
		}
	}
}

// figureNames are the names a cost figure may be given: ours and Model
// Analyzer's.
func figureNames() []string {
	out := slices.Clone(cost.FigureNames)
	for k := range cost.ModelAnalyzerNames {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (v *validator) gate() {
	g := v.s.Gate
	for _, k := range slices.Sorted(maps.Keys(g.Thresholds)) {
		t := g.Thresholds[k]
		if strings.TrimSpace(k) == "" {
			v.add("gate.thresholds", "figure names must not be empty")
		}
		if strings.TrimSpace(t) == "" {
			v.add("gate.thresholds."+k, "must not be empty (e.g. \"-5%%\" or \"+10%%\")")
		}
	}
	if g.MinTrials < 1 {
		v.add("gate.min_trials", "must be at least 1, got %d", g.MinTrials)
	}
}

// anyGPU reports whether some point of the grid has GPUs.
func (s *Scenario) anyGPU() bool {
	for _, g := range s.axis("gpus") {
		if g > 0 {
			return true
		}
	}
	return false
}
