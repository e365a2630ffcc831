// Package telemetry samples the machine beside the load: GPU counters from
// NVML, host CPU from /proc/stat, and Triton's Prometheus metrics. Each
// Sampler runs on a goroutine of its own at a fixed interval (an NVML
// sample costs ~4 ms, so it never runs on a request path) and yields
// results.Series. What cannot be sampled is reported as a note, never as an
// error that stops the measurement.
//
// Series written (labels in brackets):
//   - NVML [gpu, uuid, name, source=nvml]: gpu_util_pct (%), gpu_mem_util_pct
//     (%), gpu_mem_used_mib and gpu_mem_total_mib (MiB), gpu_power_w (W),
//     gpu_energy_j (J, monotonic).
//   - HostCPU [source=host]: cpu_util_pct (%, whole machine).
//   - Prometheus [the metric's own labels, e.g. gpu_uuid, emulated;
//     source=prometheus]: Triton's gauges as Triton reports them, e.g.
//     nv_gpu_utilization (ratio 0..1), nv_gpu_power_usage (W).
//
// NVML needs cgo; a binary built without it reports so in a note.
package telemetry

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// DefaultInterval is the sampling interval used when none is given: 10 Hz
// is as fast as NVML can be read cheaply.
const DefaultInterval = 100 * time.Millisecond

// Sampler samples one source of telemetry. Start and Stop are called once
// each, by the goroutine that runs the measurement; Current may be called
// from any goroutine.
type Sampler interface {
	// Name says which source the sampler reads, for logs.
	Name() string
	// Start begins sampling on a goroutine of its own; series times are
	// seconds since t0. Sampling ends when ctx is done or Stop is called.
	Start(ctx context.Context, t0 time.Time)
	// Stop ends sampling (taking one last sample so the series cover the
	// whole window) and returns the series and notes on what was missing.
	Stop() ([]results.Series, []string)
	// Current returns the latest utilization the sampler has seen.
	Current() Utilization
}

// Utilization is the latest GPU and CPU utilization, for a live progress
// display. GPU and CPU say whether the matching figure is known.
type Utilization struct {
	GPUPct float64
	GPU    bool
	CPUPct float64
	CPU    bool
}

// Group runs several samplers together.
type Group struct {
	samplers []Sampler
}

// Start starts every sampler with the same t0 and returns the running
// group. Order matters for Current: the first sampler that knows a figure
// gives it, so put NVML before the Prometheus scraper.
func Start(ctx context.Context, t0 time.Time, samplers ...Sampler) *Group {
	for _, s := range samplers {
		s.Start(ctx, t0)
	}
	return &Group{samplers: samplers}
}

// Current returns the latest utilization across the group's samplers.
func (g *Group) Current() Utilization {
	var u Utilization
	for _, s := range g.samplers {
		c := s.Current()
		if c.GPU && !u.GPU {
			u.GPUPct, u.GPU = c.GPUPct, true
		}
		if c.CPU && !u.CPU {
			u.CPUPct, u.CPU = c.CPUPct, true
		}
	}
	return u
}

// Stop stops every sampler and returns their series, notes and summaries.
func (g *Group) Stop() results.Telemetry {
	var series []results.Series
	var notes []string
	for _, s := range g.samplers {
		ss, ns := s.Stop()
		series = append(series, ss...)
		notes = append(notes, ns...)
	}
	t := Summarize(series)
	t.Notes = notes
	return t
}

// Summarize returns a Telemetry holding series and its summaries:
//   - GPUUtilMean: mean over GPUs of each GPU's mean gpu_util_pct (each GPU
//     weighs the same); GPUUtilMax: the largest sample. Without NVML series,
//     Triton's nv_gpu_utilization × 100.
//   - CPUUtilMean: mean of cpu_util_pct, else nv_cpu_utilization × 100.
//   - PowerMeanW: the whole machine's GPU draw, the sum over GPUs of each
//     GPU's mean gpu_power_w, else of nv_gpu_power_usage.
//   - EnergyJ: the sum over GPUs of last − first gpu_energy_j (a monotonic
//     counter), else of nv_energy_consumption.
func Summarize(series []results.Series) results.Telemetry {
	t := results.Telemetry{Series: series}
	pick := func(primary, fallback string) ([]results.Series, float64) {
		if s := named(series, primary); len(s) > 0 {
			return s, 1
		}
		return named(series, fallback), 100
	}
	if gpu, scale := pick("gpu_util_pct", "nv_gpu_utilization"); len(gpu) > 0 {
		var sumMeans float64
		for _, s := range gpu {
			sumMeans += mean(s.V)
			for _, v := range s.V {
				t.GPUUtilMax = math.Max(t.GPUUtilMax, v*scale)
			}
		}
		t.GPUUtilMean = scale * sumMeans / float64(len(gpu))
	}
	if cpu, scale := pick("cpu_util_pct", "nv_cpu_utilization"); len(cpu) > 0 {
		var sumMeans float64
		for _, s := range cpu {
			sumMeans += mean(s.V)
		}
		t.CPUUtilMean = scale * sumMeans / float64(len(cpu))
	}
	power := named(series, "gpu_power_w")
	if len(power) == 0 {
		power = named(series, "nv_gpu_power_usage")
	}
	for _, s := range power {
		t.PowerMeanW += mean(s.V)
	}
	energy := named(series, "gpu_energy_j")
	if len(energy) == 0 {
		energy = named(series, "nv_energy_consumption")
	}
	for _, s := range energy {
		if len(s.V) >= 2 {
			t.EnergyJ += s.V[len(s.V)-1] - s.V[0]
		}
	}
	summarizeMemory(&t, series)
	return t
}

// summarizeMemory sets Model Analyzer's gpu_used_memory: the most memory
// in use on each GPU over the series, summed over GPUs, in MB (10^6
// bytes), and the GPUs' total where reported. The server's own report
// (Triton's nv_gpu_memory_used_bytes, or an emulated device's, labelled
// emulated="true") is preferred to NVML, which sees the GPUs of the
// machine running the load: the same ones only when the server runs
// there too.
func summarizeMemory(t *results.Telemetry, series []results.Series) {
	sumMax := func(ss []results.Series, scale float64) float64 {
		var total float64
		for _, s := range ss {
			total += slices.Max(s.V) * scale
		}
		return total
	}
	if used := named(series, "nv_gpu_memory_used_bytes"); len(used) > 0 {
		t.GPUMemorySource = results.MemoryFromTriton
		for _, s := range used {
			if s.Labels["emulated"] == "true" {
				t.GPUMemorySource = results.MemoryFromDeviceProfile
			}
		}
		t.GPUUsedMemoryMB = sumMax(used, 1e-6)
		t.GPUTotalMemoryMB = sumMax(named(series, "nv_gpu_memory_total_bytes"), 1e-6)
		return
	}
	if used := named(series, "gpu_mem_used_mib"); len(used) > 0 {
		const mibToMB = 1.048576
		t.GPUMemorySource = results.MemoryFromNVML
		t.GPUUsedMemoryMB = sumMax(used, mibToMB)
		t.GPUTotalMemoryMB = sumMax(named(series, "gpu_mem_total_mib"), mibToMB)
	}
}

// named returns the non-empty series called name.
func named(series []results.Series, name string) []results.Series {
	var out []results.Series
	for _, s := range series {
		if s.Name == name && len(s.V) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}

// loop runs a sample function at an interval on its own goroutine.
type loop struct {
	interval time.Duration
	t0       time.Time
	sample   func(ctx context.Context, t float64)
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}
}

func (l *loop) start(ctx context.Context, t0 time.Time, interval time.Duration, sample func(ctx context.Context, t float64)) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	ctx, l.cancel = context.WithCancel(ctx)
	l.ctx = ctx
	l.interval, l.t0, l.sample, l.done = interval, t0, sample, make(chan struct{})
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		l.sample(ctx, l.since())
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				l.sample(ctx, l.since())
			}
		}
	}()
}

// stop ends the goroutine (cancelling a sample in flight) and takes a
// last sample on the caller's goroutine, under a context that is not
// cancelled; the wait on done orders every sample before the caller reads
// what they wrote. It reports whether the loop had been started.
func (l *loop) stop() bool {
	if l.done == nil {
		return false
	}
	l.cancel()
	<-l.done
	l.sample(context.WithoutCancel(l.ctx), l.since())
	l.done = nil
	return true
}

func (l *loop) since() float64 { return time.Since(l.t0).Seconds() }

// seriesSet accumulates points into series identified by name and labels,
// keeping the order in which series first appeared.
type seriesSet struct {
	order []string
	byKey map[string]*results.Series
}

func (s *seriesSet) add(name, unit string, labels map[string]string, t, v float64) {
	key := seriesKey(name, labels)
	ser, ok := s.byKey[key]
	if !ok {
		if s.byKey == nil {
			s.byKey = map[string]*results.Series{}
		}
		ser = &results.Series{Name: name, Unit: unit, Labels: maps.Clone(labels)}
		s.byKey[key] = ser
		s.order = append(s.order, key)
	}
	ser.T = append(ser.T, t)
	ser.V = append(ser.V, v)
}

func (s *seriesSet) list() []results.Series {
	out := make([]results.Series, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, *s.byKey[k])
	}
	return out
}

func seriesKey(name string, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(name)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(&b, "\x00%s=%s", k, labels[k])
	}
	return b.String()
}

// noteSet keeps each distinct problem once, with how often it happened, so
// that a failure repeated at 10 Hz yields one note.
type noteSet struct {
	order []string
	count map[string]int
}

func (n *noteSet) add(format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if n.count == nil {
		n.count = map[string]int{}
	}
	if n.count[text] == 0 {
		n.order = append(n.order, text)
	}
	n.count[text]++
}

func (n *noteSet) list() []string {
	out := make([]string, 0, len(n.order))
	for _, text := range n.order {
		if c := n.count[text]; c > 1 {
			text = fmt.Sprintf("%s (%d times)", text, c)
		}
		out = append(out, text)
	}
	return out
}

// gauge holds the latest value of a figure for readers on other
// goroutines.
type gauge struct {
	bits atomic.Uint64
	ok   atomic.Bool
}

func (g *gauge) set(v float64) {
	g.bits.Store(math.Float64bits(v))
	g.ok.Store(true)
}

func (g *gauge) get() (float64, bool) {
	if !g.ok.Load() {
		return 0, false
	}
	return math.Float64frombits(g.bits.Load()), true
}

// GPUInfo describes the GPUs NVML sees, for results.Env.
type GPUInfo struct {
	Driver      string
	NVMLVersion string
	GPUs        []GPU
}

// GPU is one device NVML sees.
type GPU struct {
	Index int
	UUID  string
	Name  string
}

// Names returns the GPUs' names in index order, as results.Env.GPUs wants.
func (i GPUInfo) Names() []string {
	names := make([]string, len(i.GPUs))
	for k, g := range i.GPUs {
		names[k] = g.Name
	}
	return names
}
