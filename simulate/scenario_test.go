package simulate

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/device"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/workload"
)

func builtin(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func h200(t testing.TB) *device.Profile {
	t.Helper()
	p, err := device.Load("h200-mlp")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func find(t *testing.T, recs []results.Record, p results.Point) *results.Measurement {
	t.Helper()
	for _, r := range recs {
		if r.Point == p {
			if r.Status != results.StatusOK {
				t.Fatalf("point %s: status %s: %s", p, r.Status, r.Reason)
			}
			return r.Measurement
		}
	}
	t.Fatalf("no record for point %s", p)
	return nil
}

// The quickstart simulated end to end: a results file a report can read,
// with the figures the emulated server would give.
func TestRunQuickstartWritesResultsFile(t *testing.T) {
	s := builtin(t, "quickstart")
	path := filepath.Join(t.TempDir(), "sim.jsonl")
	w, err := results.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Profile: h200(t), Overhead: DefaultOverhead, Version: "test"}
	if _, err := Run(context.Background(), s, opts, w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	recs, err := results.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Kind != results.KindHeader || recs[0].Header.Target != scenarios.TargetSimulated || !recs[0].Header.Env.Emulated {
		t.Fatalf("first record is not a simulated header: %+v", recs[0])
	}
	back, err := scenarios.Parse([]byte(recs[0].Header.ScenarioYAML), "header")
	if err != nil || back.Hash() != s.Hash() {
		t.Fatalf("header scenario does not parse back to the same scenario: %v", err)
	}
	pts := results.Points(recs)
	if len(pts) != len(s.Points()) {
		t.Fatalf("%d point records, want %d", len(pts), len(s.Points()))
	}
	for i, r := range pts {
		m := r.Measurement
		if r.Source != results.SourceSimulated || r.Status != results.StatusOK || r.Order != i || r.Strategy != "grid" ||
			r.ScenarioHash != s.Hash() || r.Env == nil || !r.Env.Emulated || m == nil {
			t.Fatalf("record %d is not a complete simulated point: %+v", i, r)
		}
		if m.Histogram == nil || m.Histogram.Count != m.Requests || m.Inferences != 8*m.Requests {
			t.Errorf("point %s: histogram/requests/inferences disagree", r.Point)
		}
		if m.DurationS != 2.0 { // max_windows 4 × window 500ms
			t.Errorf("point %s: window %gs, want 2s", r.Point, m.DurationS)
		}
		if len(m.Windows) != 4 || !m.Stable {
			t.Errorf("point %s: %d windows, stable %v", r.Point, len(m.Windows), m.Stable)
		}
		tel := m.Telemetry
		if len(tel.Series) != r.Point.GPUs || tel.GPUUtilMean <= 0 || tel.GPUUtilMean > 100 {
			t.Errorf("point %s: %d series, mean utilisation %g", r.Point, len(tel.Series), tel.GPUUtilMean)
		}
		for _, se := range tel.Series {
			if se.Name != "gpu_util_pct" || se.Labels["source"] != "simulated" || len(se.T) != len(se.V) || len(se.T) == 0 {
				t.Errorf("point %s: bad series %+v", r.Point, se)
			}
		}
		if b := m.Server; b == nil || math.Abs(b.QueueUS+b.ComputeInferUS+b.ClientOverheadUS-m.Latency.MeanUS) > 0.01 {
			t.Errorf("point %s: breakdown %+v does not add up to mean latency %g", r.Point, b, m.Latency.MeanUS)
		}
	}
	// One client sees one call plus the overhead.
	one := find(t, pts, results.Point{GPUs: 1, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8, Servers: 1})
	svc := float64(h200(t).ServiceTime(8)) / 1e3
	within(t, "one-client p50 (us)", one.Latency.P50US, svc+50, 0.01)
	// Four clients saturate one GPU whatever the instances, and two GPUs
	// carry twice as much.
	g1 := find(t, pts, results.Point{GPUs: 1, Instances: 2, Clients: 4, Rate: 1, BatchSize: 8, Servers: 1})
	g2 := find(t, pts, results.Point{GPUs: 2, Instances: 1, Clients: 4, Rate: 1, BatchSize: 8, Servers: 1})
	within(t, "one GPU, four clients (inf/s)", g1.ThroughputIPS, 8/(svc*1e-6), 0.01)
	within(t, "two GPUs vs one", g2.ThroughputIPS/g1.ThroughputIPS, 2, 0.25)
	if g1.Telemetry.GPUUtilMean < 99 {
		t.Errorf("one GPU with four clients: utilisation %g%%, want ~100%%", g1.Telemetry.GPUUtilMean)
	}
}

// DeepClean online: stream-e2e is stateful through its snapshotter step,
// so each stream is pinned; frames of r requests per second; data rate
// counts seconds of data per second.
func TestDeepCleanOnlineStreams(t *testing.T) {
	s := builtin(t, "deepclean-online")
	m, err := LookupModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Sequence || m.MaxBatchSize != 0 || len(m.Steps) != 2 {
		t.Fatalf("stream-e2e read as %+v; want a stateful ensemble without batch dimension", m)
	}
	recs, err := Run(context.Background(), s, Options{Profile: h200(t), Overhead: DefaultOverhead}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		mm := r.Measurement
		if r.Status != results.StatusOK || !mm.Sequence || mm.Arrival != workload.ArrivalFrames {
			t.Fatalf("point %s: %s %s, sequence %v arrival %q", r.Point, r.Status, r.Reason, mm.Sequence, mm.Arrival)
		}
		// A profile of ~125us per call keeps up easily: every stream
		// delivers one second of data per second.
		within(t, "data rate of "+r.Point.String(), mm.DataRate, float64(r.Point.Clients), 0.01)
		if !strings.Contains(strings.Join(mm.Telemetry.Notes, " "), "ensemble") {
			t.Errorf("point %s: no note that the ensemble is modelled as one model", r.Point)
		}
	}
}

// DeepClean offline: a fixed amount of data split over servers × clients,
// measured until the last response.
func TestDeepCleanOfflineDataBudget(t *testing.T) {
	s := builtin(t, "deepclean-offline")
	prof := &device.Profile{Device: "test", Points: []device.ProfilePoint{{Batch: 1, P50US: 1000}}}
	recs, err := Run(context.Background(), s, Options{Profile: prof}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		mm := r.Measurement
		if r.Status != results.StatusOK || mm.Requests != 64*8 {
			t.Fatalf("point %s: %s, %d requests; want 512 (64 s × r 8)", r.Point, r.Status, mm.Requests)
		}
		// One pinned instance per server: n servers process 512/n
		// requests of 1 ms each in series.
		want := 64 / (512 / float64(r.Point.Servers) * 1e-3)
		within(t, "data rate of "+r.Point.String(), mm.DataRate, want, 0.01)
	}
}

// The calibrated model's profile comes from its configured service time:
// the scenario's server.calibrated over the model config's parameters.
func TestCalibratedModelProfile(t *testing.T) {
	const yaml = `
name: cal
workload: {model: calibrated, mode: closed, rpc: unary}
dimensions: {instances: [1, 2], clients: [4]}
server:
  calibrated: {base_us: 200, per_item_us: 20}
measure: {warmup: 100ms, duration: 300ms}
`
	s, err := scenarios.Parse([]byte(yaml), "cal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := LookupModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Calibrated {
		t.Fatalf("calibrated model not recognised: %+v", m)
	}
	p := CalibratedProfile(m, s.Server.Calibrated)
	if got := p.ServiceTime(1); got != 220*time.Microsecond {
		t.Fatalf("service time of one item %v, want 200us + 20us", got)
	}
	if got := p.ServiceTime(10); got != 400*time.Microsecond {
		t.Fatalf("service time of ten items %v, want 400us", got)
	}
	// Unset settings fall back to the model config's parameters.
	def := CalibratedProfile(m, scenarios.Calibrated{BaseUS: 300})
	if got, want := def.ServiceTime(1), time.Duration((300+m.PerItemUS)*1e3); got != want {
		t.Errorf("base from the scenario, per item from the config: %v, want %v", got, want)
	}
	recs, err := Run(context.Background(), s, Options{Profile: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Four clients, CPU instances each their own executor.
	for _, r := range recs {
		within(t, "calibrated "+r.Point.String(), r.Measurement.ThroughputRPS, float64(r.Point.Instances)/220e-6, 0.01)
	}
}

func TestBatchSizeBeyondModelFailsPoint(t *testing.T) {
	s := builtin(t, "deepclean-online")
	rec := Point(context.Background(), s, results.Point{Clients: 1, Rate: 8, BatchSize: 4, Instances: 1, Servers: 1},
		Model{Name: "stream-e2e", Sequence: true}, Options{Profile: h200(t)})
	if rec.Status != results.StatusFailed || !strings.Contains(rec.Reason, "max_batch_size") {
		t.Fatalf("batch 4 on a model without batch dimension: %s %q", rec.Status, rec.Reason)
	}
}

func TestPointConfigFollowsScenario(t *testing.T) {
	s := builtin(t, "quickstart")
	s.Server.DynamicBatching, s.Server.MaxQueueDelayUS, s.Server.PreferredBatchSize = true, 500, []int{64}
	s.Measure.Duration = scenarios.Duration(3 * time.Second)
	p := results.Point{GPUs: 2, Instances: 3, Clients: 5, Rate: 2, BatchSize: 8, Servers: 4}
	c, err := PointConfig(s, p, Model{Name: "mlp", MaxBatchSize: 65536}, Options{Profile: h200(t)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Servers != 4 || c.GPUs != 2 || c.Instances != 3 || c.Clients != 5 || c.Concurrency != 2 || c.BatchSize != 8 ||
		!c.DynamicBatching || c.MaxQueueDelay != 500*time.Microsecond || c.PreferredBatchSizes[0] != 64 ||
		c.Duration != 3*time.Second || c.Warmup != 300*time.Millisecond || c.MaxBatchSize != 65536 {
		t.Fatalf("config does not follow the scenario: %+v", c)
	}
}
