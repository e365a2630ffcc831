package plots

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

var update = flag.Bool("update", false, "rewrite plots/testdata/sweep.jsonl from the generator")

const fixturePath = "testdata/sweep.jsonl"

// fixtureSpec is the cost function the fixture's scenario states.
func fixtureSpec() cost.Spec {
	return cost.Spec{
		Prices: cost.Prices{
			GPUHour:  map[string]float64{"H200": 3.80, "default": 2.50},
			GPUType:  "H200",
			NodeHour: 0.40,
		},
		Constraints: []string{"p99 <= 5ms", "throughput >= 100000/s"},
		Objective:   "usd_per_million",
	}
}

// model is a saturating closed-loop throughput model of a small MLP on
// Triton: each GPU serves up to capPerGPU(k) requests/s with k instances
// (instances help less and less: host-side launch work contends, as the
// H200 anchors show), and one client alone manages 1/rtt requests/s.
type model struct {
	batch    int
	rttS     float64 // one client's round trip at no load
	serviceS float64 // device time of one call
}

func (m model) capacity(p results.Point) float64 {
	k := float64(p.Instances)
	perGPU := 8000 * k / (1 + 0.45*(k-1))
	g := float64(p.GPUs)
	return g * perGPU * math.Pow(0.95, g-1)
}

// synthSweep synthesises a recorded sweep gpus × instances × clients with
// noise, per-point histograms, server breakdowns and telemetry series.
// failAt names points whose every attempt fails; retryAt points whose
// first attempt fails and second succeeds.
type synthOptions struct {
	gpus, instances, clients []int
	failAt                   map[string]string
	failAll                  bool
	retryAt                  map[string]bool
	source                   results.Source
	emulated                 bool
	telemetry                bool // GPU series; false leaves a note like a machine without NVML
	strategy                 string
	seed                     uint64
}

func defaultSynth() synthOptions {
	return synthOptions{
		gpus:      []int{1, 2},
		instances: []int{1, 2, 4},
		clients:   []int{1, 2, 4, 8, 16, 32},
		failAt: map[string]string{
			(results.Point{GPUs: 2, Instances: 4, Clients: 32, BatchSize: 8, Servers: 1}).Key(): "rpc error: code = DeadlineExceeded: 3 of 3 attempts timed out after 30s (server overloaded)",
		},
		retryAt: map[string]bool{
			(results.Point{GPUs: 1, Instances: 1, Clients: 16, BatchSize: 8, Servers: 1}).Key(): true,
		},
		source:    results.SourceMeasured,
		emulated:  true,
		telemetry: true,
		strategy:  "grid",
		seed:      42,
	}
}

func synthSweep(o synthOptions) []results.Record {
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	m := model{batch: 8, rttS: 425e-6, serviceS: 125e-6}
	t0 := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	env := results.Env{
		Host: "bench-1", OS: "linux", Arch: "amd64", CPU: "AMD EPYC 9454", CPUs: 16,
		GoVersion: "go1.26.8", Version: "v0.1.0", ServerName: "iaasbench-embedded", ServerVersion: "2.52.0",
		Emulated: o.emulated,
	}
	for range maxInt(o.gpus) {
		if o.emulated {
			env.GPUs = append(env.GPUs, "emulated H200")
		} else {
			env.GPUs = append(env.GPUs, "NVIDIA H200")
		}
	}
	target := "embedded"
	if o.source == results.SourceSimulated {
		target = "simulated"
	}
	recs := []results.Record{{
		Schema: results.SchemaVersion, Kind: results.KindHeader, SweepID: "sweep-20261127-0930", Scenario: "mlp-batch8",
		ScenarioHash: "5f1c2a", Started: t0, Finished: t0,
		Header: &results.Header{ScenarioYAML: "name: mlp-batch8\nmodel: mlp\n", Target: target, Env: env},
	}}
	now := t0
	order := 0
	for _, g := range o.gpus {
		for _, k := range o.instances {
			for _, c := range o.clients {
				p := results.Point{GPUs: g, Instances: k, Clients: c, BatchSize: m.batch, Servers: 1}
				attempts := 1
				if o.retryAt[p.Key()] {
					attempts = 2
				}
				reason, fails := o.failAt[p.Key()]
				if o.failAll {
					reason, fails = "model load failed: out of memory", true
				}
				if fails {
					attempts = 3
				}
				for a := 1; a <= attempts; a++ {
					start := now
					now = now.Add(15 * time.Second)
					r := results.Record{
						Schema: results.SchemaVersion, Kind: results.KindPoint, SweepID: "sweep-20261127-0930",
						Scenario: "mlp-batch8", ScenarioHash: "5f1c2a", Point: p, Attempt: a,
						Source: o.source, Strategy: o.strategy, Order: order, Started: start, Finished: now, Env: &env,
					}
					switch {
					case fails:
						r.Status = results.StatusFailed
						r.Reason = reason
					case a < attempts:
						r.Status = results.StatusFailed
						r.Reason = "server not ready after 60s (model load)"
					default:
						r.Status = results.StatusOK
						r.Measurement = synthMeasurement(rng, m, p, start, o.telemetry)
					}
					recs = append(recs, r)
				}
				order++
			}
		}
	}
	return recs
}

func maxInt(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func synthMeasurement(rng *rand.Rand, m model, p results.Point, start time.Time, telemetry bool) *results.Measurement {
	noise := func(sd float64) float64 { return math.Exp(sd * rng.NormFloat64()) }
	capRPS := m.capacity(p)
	x1 := 1 / m.rttS
	c := float64(p.Clients)
	rps := capRPS * (1 - math.Exp(-c*x1/capRPS)) * noise(0.03)
	rho := math.Min(rps/capRPS, 0.999)
	meanS := c / rps // Little's law
	p50 := meanS * 0.9
	p99 := meanS * (1.6 + 1.8*rho)
	sigma := math.Log(p99/p50) / 2.326

	h := hist.New()
	const samples = 20000
	for range samples {
		h.Record(int64(p50 * 1e9 * math.Exp(sigma*rng.NormFloat64())))
	}
	hr := h.ToResults()
	dur := 10.0
	ms := &results.Measurement{
		Model: "mlp", Mode: "closed", RPC: "unary", Start: start.Add(3 * time.Second), DurationS: dur,
		Requests: int64(rps * dur), Inferences: int64(rps*dur) * int64(p.BatchSize),
		ThroughputRPS: rps, ThroughputIPS: rps * float64(p.BatchSize),
		Latency: h.Summary(), Histogram: &hr, Stable: true,
	}
	infer := m.serviceS * (1 + 0.12*float64(p.Instances-1)) * 1e6
	in, out := 14.0*noise(0.05), 9.0*noise(0.05)
	overhead := 280.0 * noise(0.05)
	queue := math.Max(0, meanS*1e6-infer-in-out-overhead)
	ms.Server = &results.Breakdown{
		QueueUS: queue, ComputeInputUS: in, ComputeInferUS: infer, ComputeOutputUS: out, ClientOverheadUS: overhead,
		InferenceCount: uint64(ms.Inferences), ExecutionCount: uint64(ms.Requests), RequestCount: uint64(ms.Requests),
	}
	for w := range 3 {
		ms.Windows = append(ms.Windows, results.Window{
			StartS: float64(w) * dur / 3, DurationS: dur / 3,
			ThroughputIPS: ms.ThroughputIPS * noise(0.02), P99US: ms.Latency.P99US * noise(0.04),
		})
	}
	tel := &results.Telemetry{}
	var ts []float64
	for i := 0; i <= int(dur*5); i++ {
		ts = append(ts, float64(i)/5)
	}
	cpu := results.Series{Name: "cpu_util_pct", Unit: "%", Labels: map[string]string{"source": "host"}, T: ts}
	for _, t := range ts {
		cpu.V = append(cpu.V, clamp(10+60*rho*ramp(t)+3*rng.NormFloat64(), 0, 100))
	}
	tel.Series = append(tel.Series, cpu)
	tel.CPUUtilMean = mean(cpu.V)
	if telemetry {
		var all []float64
		for g := range p.GPUs {
			s := results.Series{Name: "gpu_util_pct", Unit: "%", T: ts,
				Labels: map[string]string{"gpu": fmt.Sprint(g), "source": "emulated"}}
			for _, t := range ts {
				s.V = append(s.V, clamp(5+85*rho*ramp(t)+4*rng.NormFloat64(), 0, 100))
			}
			all = append(all, s.V...)
			tel.Series = append(tel.Series, s)
		}
		tel.GPUUtilMean = mean(all)
		for _, v := range all {
			tel.GPUUtilMax = math.Max(tel.GPUUtilMax, v)
		}
	} else {
		tel.Notes = append(tel.Notes, "NVML unavailable: no NVIDIA driver (ERROR_LIBRARY_NOT_FOUND)")
	}
	ms.Telemetry = tel
	return ms
}

// ramp models the first second of load, before the queues fill.
func ramp(t float64) float64 { return math.Min(1, 0.3+0.7*t) }

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func encodeRecords(t *testing.T, recs []results.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// TestFixtureUpToDate keeps testdata/sweep.jsonl what the generator makes,
// so that the recorded file and the model that made it cannot drift apart.
// Run `go test ./plots -run Fixture -update` after changing the generator.
func TestFixtureUpToDate(t *testing.T) {
	if *update {
		want := encodeRecords(t, synthSweep(defaultSynth()))
		if err := os.MkdirAll(filepath.Dir(fixturePath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fixturePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := results.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("read fixture (run with -update to create it): %v", err)
	}
	gen := synthSweep(defaultSynth())
	if len(got) != len(gen) {
		t.Fatalf("%s has %d records, the generator makes %d: run go test ./plots -run Fixture -update", fixturePath, len(got), len(gen))
	}
	// Compare what the figures draw, with a tolerance: float results may
	// differ in the last bits across architectures (fused multiply-add).
	for i := range got {
		a, b := got[i], gen[i]
		if a.Point != b.Point || a.Status != b.Status || a.Attempt != b.Attempt || (a.Measurement == nil) != (b.Measurement == nil) {
			t.Fatalf("%s:%d differs from the generator: run go test ./plots -run Fixture -update", fixturePath, i+1)
		}
		if a.Measurement != nil && !near(a.Measurement.ThroughputIPS, b.Measurement.ThroughputIPS) {
			t.Fatalf("%s:%d throughput %g, generator %g: run -update", fixturePath, i+1, a.Measurement.ThroughputIPS, b.Measurement.ThroughputIPS)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// loadFixture reads the recorded sweep the way a user's file is read.
func loadFixture(t *testing.T) []results.Record {
	t.Helper()
	recs, err := results.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
