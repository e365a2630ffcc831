package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/modelrepo"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/workload"
)

// Model is what the simulator needs to know of the served model.
type Model struct {
	Name string
	// MaxBatchSize is the model's max_batch_size: 0 means requests carry no
	// batch dimension (batch size 1 only) and cannot be batched.
	MaxBatchSize int
	// Sequence: the model (or a step of the ensemble) is stateful, so each
	// client's requests are pinned to one instance.
	Sequence bool
	// Calibrated: the built-in calibrated backend, whose service time is
	// base_us + per_item_us × rows (see CalibratedProfile).
	Calibrated bool
	BaseUS     float64 // calibrated: the config's base_us
	PerItemUS  float64 // calibrated: the config's per_item_us
	// Steps are an ensemble's composing models; the simulator runs an
	// ensemble as one model whose call takes the profile's service time.
	Steps []string
}

// LookupModel reads the scenario's model from its repository
// (target.repo, or the built-in models).
func LookupModel(s *scenarios.Scenario) (Model, error) {
	repo := modelrepo.Builtin()
	if s.Target.Repo != "" {
		r, err := modelrepo.Dir(s.Target.Repo)
		if err != nil {
			return Model{}, fmt.Errorf("scenario %s: target.repo: %w", s.Name, err)
		}
		repo = r
	}
	cfg, _, err := repo.Config(s.Workload.Model)
	if err != nil {
		return Model{}, fmt.Errorf("scenario %s: workload.model: %w", s.Name, err)
	}
	m := Model{Name: cfg.GetName(), MaxBatchSize: int(cfg.GetMaxBatchSize()), Sequence: cfg.GetSequenceBatching() != nil}
	if cfg.GetBackend() == "iaasbench_calibrated" {
		m.Calibrated = true
		m.BaseUS, m.PerItemUS = 1000, 0 // the backend's defaults
		if v, ok := cfg.GetParameters()["base_us"]; ok {
			if m.BaseUS, err = strconv.ParseFloat(v.GetStringValue(), 64); err != nil {
				return Model{}, fmt.Errorf("model %s: parameter base_us: %w", m.Name, err)
			}
		}
		if v, ok := cfg.GetParameters()["per_item_us"]; ok {
			if m.PerItemUS, err = strconv.ParseFloat(v.GetStringValue(), 64); err != nil {
				return Model{}, fmt.Errorf("model %s: parameter per_item_us: %w", m.Name, err)
			}
		}
	}
	for _, st := range cfg.GetEnsembleScheduling().GetStep() {
		m.Steps = append(m.Steps, st.GetModelName())
		sc, _, err := repo.Config(st.GetModelName())
		if err != nil {
			return Model{}, fmt.Errorf("ensemble %s: %w", m.Name, err)
		}
		if sc.GetSequenceBatching() != nil {
			m.Sequence = true
		}
	}
	return m, nil
}

// CalibratedProfile is the profile of the calibrated model: a straight
// line base_us + per_item_us × rows, with the scenario's
// server.calibrated settings overriding the model config's.
func CalibratedProfile(m Model, c scenarios.Calibrated) *device.Profile {
	base, per := m.BaseUS, m.PerItemUS
	if c.BaseUS > 0 {
		base = c.BaseUS
	}
	if c.PerItemUS > 0 {
		per = c.PerItemUS
	}
	// Two points: ServiceTime extrapolates linearly from the last two.
	return &device.Profile{
		Device: "calibrated model (CPU)",
		Model:  fmt.Sprintf("calibrated: %g us + %g us per item", base, per),
		Points: []device.ProfilePoint{{Batch: 1, P50US: max(base+per, 1e-3)}, {Batch: 2, P50US: max(base+2*per, 2e-3)}},
	}
}

// Options say how a scenario is simulated.
type Options struct {
	// Profile gives the service time of one call by batch rows (required).
	// Without GPUs it stands for the CPU that runs each instance.
	Profile *device.Profile
	// Overhead is the client/network time per request outside the server,
	// used as is (0: none); the CLI defaults it to DefaultOverhead.
	Overhead time.Duration
	// ServiceOffset is added to every call's profile service time (a
	// device measured slower or faster than its profile; see
	// CalibrateService). The sum is kept at zero or more.
	ServiceOffset time.Duration
	// Overshoot, when positive, adds to every call an exponentially
	// distributed extra time of this mean (Config.Overshoot): an emulated
	// device that wakes late by a random amount (see Validate).
	Overshoot time.Duration
	// ServiceExcess, when given, replaces Overshoot with the empirical
	// distribution of a measured device's excess over the profile
	// (Config.ServiceExcess; see Validate).
	ServiceExcess []time.Duration
	// OverheadQuantiles, when given, make the overhead a distribution
	// (Config.OverheadQuantiles); Overhead is then its typical value, for
	// the records.
	OverheadQuantiles []time.Duration
	// Host, when given, puts clients and servers on one machine with that
	// many shared cores (Config.Host); Validate fits it from an embedded
	// sweep (FitHost). Nil for a GPU server.
	Host *HostModel
	// Lengthen, when above 1, simulates each point this many times longer
	// (and this many times the requests) than the scenario measures it:
	// the figures of a long run, whose tail quantiles are not the noise
	// of one short window. Data-budget scenarios keep their length.
	Lengthen int
	// Model overrides LookupModel (needed when the scenario's model is not
	// in a repository this process can read).
	Model *Model
	Seed  uint64
	// Env describes this machine for the records; nil fills a minimal one.
	Env *results.Env
	// KeepSeries is the most GPUs whose utilisation series a record keeps
	// (default 64).
	KeepSeries int
	Version    string
}

// PointConfig turns one point of a scenario into the Config that
// simulates it.
//
// Clients are per server, as the sweep deploys them (each server gets
// `clients` clients); what `rate` asks of each is the workload's
// (scenarios.Workload.ClientLoad).
// The measured window is measure.duration, else max_windows × window,
// after measure.warmup (a data budget measures from the start to the last
// response instead). The model's max_batch_size, statefulness and, for
// the calibrated model, jitter come from m.
func PointConfig(s *scenarios.Scenario, p results.Point, m Model, opts Options) (Config, error) {
	if opts.Profile == nil || len(opts.Profile.Points) == 0 {
		return Config{}, errors.New("no device profile")
	}
	if p.ModelConfig != "" {
		// Overrides change the server's scheduling in ways the model here
		// does not follow: refuse rather than simulate something else.
		return Config{}, fmt.Errorf("point %s: the simulator does not model model-config overrides (dimensions.model_config)", p.Key())
	}
	w := s.Workload
	load := w.ClientLoad(p)
	c := Config{
		Servers:     max(p.Servers, 1),
		GPUs:        max(p.GPUs, 0),
		Instances:   max(p.Instances, 1),
		Clients:     max(p.Clients, 1),
		Mode:        w.Mode,
		Arrival:     w.Arrival,
		Rate:        load.Rate,
		BatchSize:   max(p.BatchSize, 1),
		Sequence:    w.Sequence || m.Sequence,
		DataSeconds: w.DataSeconds,

		MaxBatchSize: m.MaxBatchSize,
		MaxQueueSize: s.Server.MaxQueueSize,
		ServiceTime:  opts.serviceTime(),
		Overhead:     opts.Overhead,
		Host:         opts.Host,

		Overshoot:     opts.Overshoot,
		ServiceExcess: opts.ServiceExcess,

		OverheadQuantiles: opts.OverheadQuantiles,
		KeepSeries:        opts.KeepSeries,
		Seed:              opts.Seed ^ pointSeed(p),
	}
	if c.Mode == workload.ModeOpen && c.Arrival == "" {
		c.Arrival = workload.ArrivalConstant
	}
	if c.Mode == workload.ModeClosed {
		// As the sweep drives package measure; a model that is stateful
		// makes each client a sequence, one request at a time, even where
		// the workload does not say so.
		c.Concurrency = load.Concurrency
		if c.Sequence {
			c.Concurrency = 1
		}
	}
	if m.MaxBatchSize == 0 && c.BatchSize > 1 {
		return Config{}, fmt.Errorf("batch size %d: model %s has max_batch_size 0 (no batch dimension)", c.BatchSize, m.Name)
	}
	// As the sweep configures the server: dynamic batching only for
	// batching, non-sequence models.
	if s.Server.DynamicBatching && m.MaxBatchSize > 0 && !c.Sequence {
		c.DynamicBatching = true
		c.PreferredBatchSizes = slices.Clone(s.Server.PreferredBatchSize)
		c.MaxQueueDelay = time.Duration(s.Server.MaxQueueDelayUS) * time.Microsecond
	}
	if m.Calibrated {
		c.Jitter = s.Server.Calibrated.Jitter
	}
	ms := s.Measure
	c.Warmup = ms.Warmup.D()
	c.Window = ms.Window.D()
	c.Requests = ms.Requests
	switch {
	case ms.Duration > 0:
		c.Duration = ms.Duration.D()
		if c.Window <= 0 || c.Window > c.Duration {
			c.Window = c.Duration
		}
	case ms.Requests > 0:
		c.Duration = 0
	default:
		c.Duration = time.Duration(max(ms.MaxWindows, 1)) * c.Window
	}
	if c.DataSeconds > 0 {
		c.Rate = load.SamplingRate // the budget is DataSeconds·r requests
		c.Warmup, c.Duration, c.Window, c.Requests = 0, 0, 0, 0
	} else if n := opts.Lengthen; n > 1 {
		c.Duration *= time.Duration(n)
		c.Requests *= n
	}
	return c, c.Validate()
}

// pointSeed derives a point's random stream from its coordinates, so a
// point simulates the same whatever else the sweep holds.
func pointSeed(p results.Point) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p.Key()))
	return h.Sum64()
}

// Point simulates one point and returns its record (failed, with
// the reason, when the point cannot be simulated).
func Point(ctx context.Context, s *scenarios.Scenario, p results.Point, m Model, opts Options) results.Record {
	env := opts.env()
	rec := results.Record{
		Kind: results.KindPoint, Scenario: s.Name, ScenarioHash: s.Hash(), Point: p, Attempt: 1,
		Source: results.SourceSimulated, Strategy: scenarios.StrategyGrid, Started: time.Now().UTC(), Env: &env,
	}
	cfg, err := PointConfig(s, p, m, opts)
	if err != nil {
		rec.Status, rec.Reason, rec.Finished = results.StatusFailed, "simulate: "+err.Error(), time.Now().UTC()
		return rec
	}
	res, err := Simulate(ctx, cfg)
	rec.Finished = time.Now().UTC()
	if err != nil {
		rec.Status, rec.Reason = results.StatusFailed, "simulate: "+err.Error()
		return rec
	}
	rec.Measurement = measurement(s, p, cfg, res, rec.Started)
	if len(m.Steps) > 0 {
		rec.Measurement.Telemetry.Notes = append(rec.Measurement.Telemetry.Notes,
			fmt.Sprintf("simulated: ensemble %s (%v) modelled as one model whose call takes the profile's service time", m.Name, m.Steps))
	}
	rec.Status = results.StatusOK
	if res.Incomplete != "" {
		rec.Status, rec.Reason = results.StatusIncomplete, res.Incomplete
	}
	return rec
}

// measurement turns a Result into the Measurement a sweep would record.
func measurement(s *scenarios.Scenario, p results.Point, cfg Config, res *Result, start time.Time) *results.Measurement {
	w := s.Workload
	m := &results.Measurement{
		Model: w.Model, Mode: w.Mode, RPC: w.RPC, Sequence: cfg.Sequence,
		Start: start, DurationS: res.DurationS,
		// The simulator's errors are requests a full queue refused: what a
		// measurement records as rejected for overload.
		Requests: res.Requests, Inferences: res.Inferences, Rejected: res.Errors,
		ThroughputRPS: float64(res.Requests) / res.DurationS,
		OfferedRPS:    float64(res.Requests+res.Errors) / res.DurationS,
		RejectedRPS:   float64(res.Errors) / res.DurationS,
		ThroughputIPS: float64(res.Inferences) / res.DurationS,
		Latency:       res.Latency.Summary(),
		Windows:       res.Windows,
		Incomplete:    res.Incomplete != "",
		Error:         res.Incomplete,
	}
	if n := res.Requests + res.Errors; n > 0 {
		m.RejectionRate = float64(res.Errors) / float64(n)
	}
	if w.Mode == workload.ModeOpen {
		m.Arrival = cfg.Arrival
	}
	if r := w.ClientLoad(p).SamplingRate; streaming(w) && r > 0 {
		m.DataRate = m.ThroughputRPS / r
	}
	h := res.Latency.ToResults()
	m.Histogram = &h
	if res.Requests > 0 {
		n := float64(res.Requests)
		q, inf := res.QueueS/n*1e6, res.InferS/n*1e6
		m.Server = &results.Breakdown{
			QueueUS: q, ComputeInferUS: inf,
			ClientOverheadUS: max(m.Latency.MeanUS-q-inf, 0),
			InferenceCount:   uint64(res.Inferences),
			ExecutionCount:   uint64(res.Executions),
			RequestCount:     uint64(res.Requests),
		}
	}
	m.Stable = stable(res.Windows, s.Measure)
	t := &results.Telemetry{Series: res.Series}
	if len(res.GPUUtil) > 0 {
		sum := 0.0
		for _, u := range res.GPUUtil {
			sum += u
		}
		t.GPUUtilMean = 100 * sum / float64(len(res.GPUUtil))
		t.GPUUtilMax = 100 * res.GPUUtilMax
		t.Notes = append(t.Notes, "simulated: GPU utilisation is the busy fraction of each modelled device (one call at a time)")
	} else {
		t.Notes = append(t.Notes, "simulated: no GPUs at this point; each instance is a CPU executor with the profile's service time")
	}
	if cfg.Host != nil {
		t.CPUUtilMean = 100 * res.HostCPUUtil
		t.Notes = append(t.Notes, fmt.Sprintf("simulated: host CPU utilisation is the busy fraction of the modelled host's %d cores", cfg.Host.Cores))
	}
	t.Notes = append(t.Notes, res.SeriesNotes...)
	m.Telemetry = t
	return m
}

// streaming mirrors the scenario's notion of a stream workload (a time
// series whose data rate matters).
func streaming(w scenarios.Workload) bool {
	return w.Sequence || w.RPC == workload.RPCStream || w.Arrival == workload.ArrivalFrames || w.DataSeconds > 0
}

// stable applies the measurement's rule to the simulated windows: the
// last stable_windows windows agree within stability_tolerance of their
// mean. A fixed duration or request count has no rule: stable.
func stable(ws []results.Window, ms scenarios.MeasureSettings) bool {
	if ms.Duration > 0 || ms.Requests > 0 || len(ws) == 0 {
		return true
	}
	k := max(ms.StableWindows, 1)
	if len(ws) < k {
		return false
	}
	last := ws[len(ws)-k:]
	mean := 0.0
	for _, w := range last {
		mean += w.ThroughputIPS
	}
	mean /= float64(k)
	for _, w := range last {
		if mean == 0 || math.Abs(w.ThroughputIPS-mean)/mean > ms.StabilityTolerance {
			return false
		}
	}
	return true
}

// serviceTime is the profile's service time plus ServiceOffset.
// model is Options.Model, else the scenario's model from its repository.
func (o Options) model(s *scenarios.Scenario) (Model, error) {
	if o.Model != nil {
		return *o.Model, nil
	}
	return LookupModel(s)
}

func (o Options) serviceTime() func(rows int) time.Duration {
	p, off := o.Profile, o.ServiceOffset
	if off == 0 {
		return p.ServiceTime
	}
	return func(rows int) time.Duration { return max(p.ServiceTime(rows)+off, 0) }
}

func (o Options) env() results.Env {
	var env results.Env
	if o.Env != nil {
		env = *o.Env
	} else {
		host, _ := os.Hostname()
		env = results.Env{Host: host, OS: goruntime.GOOS, Arch: goruntime.GOARCH, CPUs: goruntime.NumCPU(), GoVersion: goruntime.Version(), Version: o.Version}
	}
	env.Emulated = true
	env.ServerName = "iaasbench simulate (discrete-event model, no server ran)"
	if o.Profile != nil {
		env.ServerName += "; profile: " + o.Profile.Device
	}
	env.ServerVersion = fmt.Sprintf("overhead %gus, host cores %d", float64(o.Overhead)/1e3, o.Host.cores())
	if len(o.OverheadQuantiles) > 0 {
		env.ServerVersion = fmt.Sprintf("overhead: empirical, %d quantiles (median %gus), host cores %d",
			len(o.OverheadQuantiles), float64(o.OverheadQuantiles[len(o.OverheadQuantiles)/2])/1e3, o.Host.cores())
	}
	if o.ServiceOffset != 0 {
		env.ServerVersion += fmt.Sprintf(", service time = profile %+gus", float64(o.ServiceOffset)/1e3)
	}
	switch {
	case len(o.ServiceExcess) > 0:
		env.ServerVersion += fmt.Sprintf(", calls exceed the profile as measured (%d quantiles)", len(o.ServiceExcess))
		if o.Host != nil && len(o.Host.ExcessPerBusyDevice) > 0 {
			env.ServerVersion += ", more so with more GPUs busy on the host"
		}
	case o.Overshoot > 0:
		env.ServerVersion += fmt.Sprintf(", calls overshoot by an exponential of mean %gus", float64(o.Overshoot)/1e3)
	}
	env.ServerVersion += o.Host.describe()
	return env
}

// Run simulates every point of the scenario's grid in order and writes a
// header and one record per point to w (nil writes nothing). It returns
// the point records.
func Run(ctx context.Context, s *scenarios.Scenario, opts Options, w *results.Writer) ([]results.Record, error) {
	m, err := opts.model(s)
	if err != nil {
		return nil, err
	}
	hdr := Header(s, opts)
	if w != nil {
		if err := w.Append(hdr); err != nil {
			return nil, err
		}
	}
	var out []results.Record
	for i, p := range s.Points() {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("simulate %s: %w", s.Name, err)
		}
		rec := Point(ctx, s, p, m, opts)
		rec.SweepID, rec.Order = hdr.SweepID, i
		if w != nil {
			if err := w.Append(rec); err != nil {
				return out, err
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// Header is the header record of a simulated sweep of s: the scenario as
// written, target "simulated", and a sweep ID that is the same for the
// same scenario and options.
func Header(s *scenarios.Scenario, opts Options) results.Record {
	return results.Record{Kind: results.KindHeader, SweepID: sweepID(s, opts), Scenario: s.Name, ScenarioHash: s.Hash(), Started: time.Now().UTC(),
		Source: results.SourceSimulated,
		Header: &results.Header{ScenarioYAML: string(s.YAML()), Target: scenarios.TargetSimulated, Env: opts.env()}}
}

// sweepID is deterministic: the same scenario simulated with the same
// options is the same sweep.
func sweepID(s *scenarios.Scenario, o Options) string {
	h := sha256.New()
	fmt.Fprint(h, s.Hash(), o.Overhead, o.OverheadQuantiles, o.ServiceOffset, o.Host.cores(), o.Seed)
	if o.Lengthen > 1 {
		fmt.Fprint(h, "lengthen", o.Lengthen)
	}
	fmt.Fprint(h, o.Host.identity(o))
	if o.Profile != nil {
		for _, p := range o.Profile.Points {
			fmt.Fprint(h, p.Batch, p.P50US)
		}
	}
	return s.Name + "-sim-" + hex.EncodeToString(h.Sum(nil)[:4])
}
