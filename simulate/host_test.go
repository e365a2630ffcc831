package simulate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/scenarios"
	"github.com/iaasbench/iaasbench/workload"
)

// With a host the overhead is CPU work: one core of 200 µs per request
// caps the rate at 5000/s however fast the device.
func TestHostCoresCapThroughput(t *testing.T) {
	c := base(10 * time.Microsecond)
	c.Clients, c.GPUs, c.Overhead, c.Host = 16, 4, 200*time.Microsecond, &HostModel{Cores: 1}
	within(t, "throughput on one host core", throughput(run(t, c)), 5000, 0.01)
	c.Host = nil // pure latency: 16 clients in flight hide it
	within(t, "throughput with latency-only overhead", throughput(run(t, c)), 16/(210e-6), 0.01)
}

// Cores are shared, not queued for: four clients' 200 µs of overhead on
// two cores each take 400 µs, every one of them (a FIFO pool would let
// some through in 200 µs and hold others for 600 µs).
func TestHostCoresShareLikeAnOS(t *testing.T) {
	c := base(time.Microsecond)
	c.GPUs, c.Clients, c.Overhead, c.Host = 4, 4, 200*time.Microsecond, &HostModel{Cores: 2}
	r := run(t, c)
	within(t, "throughput of 4 clients on 2 cores", throughput(r), 2/200e-6, 0.01)
	want := 400e-6 + 1e-6
	within(t, "fastest request", float64(r.Latency.Min())/1e9, want, 0.01)
	within(t, "slowest request", float64(r.Latency.Max())/1e9, want, 0.01)
	// Idle only while all four are at their devices (1 µs in 401 µs).
	within(t, "host CPU utilisation", r.HostCPUUtil, 400.0/401, 1e-3)
}

// An emulated GPU computes on the host: two of them on one core serve
// what one would.
func TestDeviceOnHostTakesACore(t *testing.T) {
	const d = 100 * time.Microsecond
	c := base(d)
	c.GPUs, c.Clients, c.Host = 2, 8, &HostModel{Cores: 1}
	within(t, "two GPUs, latency-only host", throughput(run(t, c)), 2/d.Seconds(), 0.01)
	c.Host.DeviceOnHost = true
	r := run(t, c)
	within(t, "two GPUs computing on one core", throughput(r), 1/d.Seconds(), 0.01)
	// Each device holds its lock while it shares the core: both look busy.
	for i, u := range r.GPUUtil {
		if u < 0.99 {
			t.Errorf("GPU %d utilisation %.3f, want 1 (busy while sharing the core)", i, u)
		}
	}
	within(t, "host CPU utilisation", r.HostCPUUtil, 1, 1e-3)
}

// Background work is charged to every request but delays none directly:
// 100 µs of overhead and 100 µs of background on one core cap the rate at
// 5000/s, and a lone client on a spare core does not see it.
func TestBackgroundCPUCapsThroughput(t *testing.T) {
	c := base(10 * time.Microsecond)
	c.GPUs, c.Clients, c.Overhead = 4, 16, 100*time.Microsecond
	c.Host = &HostModel{Cores: 1, BackgroundCPU: 100 * time.Microsecond}
	within(t, "throughput with background work", throughput(run(t, c)), 5000, 0.01)
	c.Clients, c.Host.Cores = 1, 2
	within(t, "one client, a spare core", meanLatency(run(t, c)), 110e-6, 0.01)
}

// The embedded server hands the device on only after the reply's CPU
// work: 100 µs calls with 100 µs of overhead (50 µs each way) take 150 µs
// each however many clients wait.
func TestHandoffAfterReply(t *testing.T) {
	const d = 100 * time.Microsecond
	c := base(d)
	c.Clients, c.Overhead, c.Host = 8, 100*time.Microsecond, &HostModel{Cores: 16, DeviceOnHost: true}
	within(t, "device-bound, handed over at once", throughput(run(t, c)), 1/d.Seconds(), 0.01)
	c.Host.HandoffAfterReply = true
	r := run(t, c)
	within(t, "device handed over after the reply", throughput(r), 1/150e-6, 0.01)
	// The gap is not device time: utilisation is 100/150.
	within(t, "GPU utilisation with handoff gaps", r.GPUUtil[0], 100.0/150, 0.01)
}

// Of each overhead draw only CPUOverheadCap is work; the rest waits
// without a core: overheads of 300–500 µs capped at 100 µs on one core
// allow 10,000 requests/s, while a lone request still takes the whole
// overhead.
func TestCPUOverheadCapSplitsWorkFromWaiting(t *testing.T) {
	c := base(time.Microsecond)
	c.GPUs, c.Clients, c.Host = 4, 64, &HostModel{Cores: 1, CPUOverheadCap: 100 * time.Microsecond}
	c.OverheadQuantiles = []time.Duration{300 * time.Microsecond, 400 * time.Microsecond, 500 * time.Microsecond}
	within(t, "throughput with capped CPU work", throughput(run(t, c)), 10000, 0.01)
	c.Clients = 1
	within(t, "lone request", meanLatency(run(t, c)), 401e-6, 0.01)
}

func TestHostSettingsNeedCores(t *testing.T) {
	c := base(time.Millisecond)
	c.Host = &HostModel{BackgroundCPU: time.Microsecond}
	if _, err := Simulate(context.Background(), c); err == nil || !strings.Contains(err.Error(), "host cores") {
		t.Errorf("a host without cores: %v", err)
	}
	c.Host = &HostModel{Cores: 2, ExcessPerBusyDevice: []time.Duration{time.Microsecond}}
	if _, err := Simulate(context.Background(), c); err == nil || !strings.Contains(err.Error(), "excess per busy device") {
		t.Errorf("increments per busy device without excesses: %v", err)
	}
}

// hostRecord is a measured point whose host spent cpu per request at rps.
func hostRecord(clients int, rps float64, cpu time.Duration, cores int) results.Record {
	return results.Record{Kind: results.KindPoint, Status: results.StatusOK,
		Point: results.Point{Servers: 1, GPUs: 1, Instances: 1, Clients: clients, Rate: 1, BatchSize: 8},
		Env:   &results.Env{CPUs: cores},
		Measurement: &results.Measurement{Requests: int64(rps), ThroughputRPS: rps,
			Telemetry: &results.Telemetry{CPUUtilMean: 100 * rps * cpu.Seconds() / float64(cores)}}}
}

// The host CPU per request is read at the busiest points; points with
// fewer requests in flight (whose idle spinning inflates it) are left
// out, and device and overhead CPU come off it to leave the background.
func TestCalibrateHostRecoversCPUPerRequest(t *testing.T) {
	s := builtin(t, "quickstart")
	const truth = 300 * time.Microsecond
	measured := []results.Record{
		{Kind: results.KindHeader, Header: &results.Header{Target: scenarios.TargetEmbedded, Env: results.Env{CPUs: 2}}},
		hostRecord(1, 3000, 600*time.Microsecond, 2), // a lone client: not the busiest
		hostRecord(4, 5000, truth, 2),
		hostRecord(4, 6000, truth+8*time.Microsecond, 2),
		hostRecord(4, 6600, truth-6*time.Microsecond, 2),
	}
	// One point batched two requests per call: its device share halves.
	b := &results.Breakdown{RequestCount: 1000, ExecutionCount: 500, InferenceCount: 8000}
	measured[3].Measurement.Server = b
	cal, err := CalibrateHost(measured, s, 0, 60*time.Microsecond, flat(125*time.Microsecond), true)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Cores != 2 || len(cal.From) != 3 {
		t.Fatalf("calibration on %d cores from %d points, want 2 cores, the 3 four-client points (%s)", cal.Cores, len(cal.From), cal.How)
	}
	within(t, "host CPU per request", cal.CPUPerRequest.Seconds(), truth.Seconds(), 0.03)
	within(t, "device CPU per request", cal.DeviceCPU.Seconds(), 125e-6, 1e-6)
	within(t, "background per request", cal.Background.Seconds(), (truth - 185*time.Microsecond).Seconds(), 0.08)
	// More cores than the machine that measured: the pool is as given.
	if cal, _ := CalibrateHost(measured, s, 8, 0, flat(0), false); cal.Cores != 8 || cal.DeviceCPU != 0 {
		t.Errorf("given 8 cores and no device on host: %+v", cal)
	}

	// Without host telemetry or a core count there is nothing to fit.
	for i := range measured[1:] {
		measured[i+1].Measurement.Telemetry = nil
	}
	if _, err := CalibrateHost(measured, s, 0, 0, flat(0), true); err == nil || !strings.Contains(err.Error(), "cpu_util") {
		t.Errorf("no telemetry: %v", err)
	}
	bare := []results.Record{hostRecord(4, 5000, truth, 0)}
	if _, err := CalibrateHost(bare, s, 0, 0, flat(0), true); err == nil || !strings.Contains(err.Error(), "env.cpus") {
		t.Errorf("no CPU count: %v", err)
	}
}

// Round trip: a sweep simulated with a known host (2 cores, device calls
// on them, 150 µs of background per request) and labelled embedded is
// fitted back and matched.
func TestValidateFitsTheHost(t *testing.T) {
	s := builtin(t, "quickstart")
	env := results.Env{CPUs: 2}
	truth := Options{Profile: h200(t), Overhead: 60 * time.Microsecond, Env: &env, Seed: 3,
		Host: &HostModel{Cores: 2, DeviceOnHost: true, HandoffAfterReply: true, BackgroundCPU: 150 * time.Microsecond}}
	measured := simulatedAsMeasured(t, s, truth)
	v, err := Validate(context.Background(), s, measured, Options{Profile: h200(t), Env: &env, Host: &HostModel{DeviceCPU: emulatedGPUSpin}}, FitOverhead|FitHost)
	if err != nil {
		t.Fatal(err)
	}
	if v.Host == nil {
		t.Fatalf("no host fitted; warnings %v", v.Warnings)
	}
	t.Logf("host: %s; overhead %v", v.Host.How, v.Overhead)
	if h := v.Options.Host; v.Host.Cores != 2 || h == nil || h.Cores != 2 || !h.DeviceOnHost || !h.HandoffAfterReply || h.DeviceCPU != emulatedGPUSpin {
		t.Errorf("host model %+v / options %+v", v.Host, v.Options)
	}
	// True CPU per request: 60 µs overhead + 125 µs call + 150 µs.
	within(t, "host CPU per request", v.Host.CPUPerRequest.Seconds(), 335e-6, 0.03)
	within(t, "background", v.Host.Background.Seconds(), 150e-6, 0.1)
	if v.MaxThroughputErrPct > 3 {
		t.Errorf("throughput off by up to %.1f%% after fitting the host", v.MaxThroughputErrPct)
	}
	// Without the host model the same points are far off: the host caps them.
	v, err = Validate(context.Background(), s, measured, Options{Profile: h200(t), Env: &env}, FitOverhead)
	if err != nil {
		t.Fatal(err)
	}
	if v.MaxThroughputErrPct < 20 {
		t.Errorf("an unlimited host matched a host-bound sweep within %.1f%%", v.MaxThroughputErrPct)
	}
}

// On a loaded host a lone request's measured overhead has a tail that is
// partly contention for the cores; the host model adds contention by
// itself, so Validate discounts that tail until the single-request points
// match again, and the throughput follows everywhere.
func TestValidateDiscountsContentionInTheOverheadTail(t *testing.T) {
	s := builtin(t, "quickstart")
	env := results.Env{CPUs: 2}
	us := time.Microsecond
	tail := []time.Duration{40 * us, 45 * us, 50 * us, 50 * us, 55 * us, 60 * us, 60 * us, 70 * us, 300 * us, 600 * us}
	truth := Options{Profile: h200(t), Overhead: 55 * us, OverheadQuantiles: tail, Env: &env, Seed: 3,
		Host: &HostModel{Cores: 2, CPUOverheadCap: 55 * us, DeviceOnHost: true, HandoffAfterReply: true, BackgroundCPU: 400 * us}}
	measured := simulatedAsMeasured(t, s, truth)
	v, err := Validate(context.Background(), s, measured, Options{Profile: h200(t), Env: &env, Host: &HostModel{DeviceCPU: emulatedGPUSpin}}, FitOverhead|FitHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %s", v.Calibration.How, v.Host.How)
	if !strings.Contains(v.Calibration.How, "scaled by") {
		t.Errorf("no tail discounted: %s", v.Calibration.How)
	}
	if v.MaxThroughputErrPct > 3 {
		t.Errorf("throughput off by up to %.1f%% after discounting the tail", v.MaxThroughputErrPct)
	}
	// The tail as fitted, counted on top of the host's contention, runs a
	// lone request too slowly.
	lone := results.Point{Servers: 1, GPUs: 1, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8}
	o := v.Options
	o.OverheadQuantiles = v.Calibration.Quantiles
	m, err := LookupModel(s)
	if err != nil {
		t.Fatal(err)
	}
	rec := Point(context.Background(), s, lone, m, o)
	want := find(t, measured, lone).ThroughputIPS
	t.Logf("lone client, undiscounted tail: %.0f inf/s, measured %.0f", rec.Measurement.ThroughputIPS, want)
	if got := rec.Measurement.ThroughputIPS; got > 0.97*want {
		t.Errorf("undiscounted tail: lone client at %.0f inf/s, measured %.0f: the test does not exercise the discount", got, want)
	}
}

// A device that sleeps through a long call holds a core only for its
// final spin (DeviceCPU): four 1.4 ms devices on two cores serve nearly
// what four devices do, not what two cores computing whole calls would.
// (The four devices run in step here, so their 120 µs spins share the
// two cores and take 240 µs.)
func TestDeviceCPUIsOnlyTheSpin(t *testing.T) {
	const d = 1400 * time.Microsecond
	c := base(d)
	c.GPUs, c.Clients, c.Host = 4, 8, &HostModel{Cores: 2, DeviceOnHost: true}
	within(t, "whole calls on two cores", throughput(run(t, c)), 2/d.Seconds(), 0.01)
	c.Host.DeviceCPU = 120 * time.Microsecond
	r := run(t, c)
	within(t, "only the spin on the cores", throughput(r), 4/(d.Seconds()+120e-6), 0.01)
	within(t, "host CPU: four spins of 120 µs per call", r.HostCPUUtil, 4*120.0/1520/2, 0.01)
}

// A measured excess over the profile is drawn per call: with half the
// calls 1 ms late, one device serves 1/(d + 0.5 ms) calls per second and
// a request queued behind a late call waits for it.
func TestServiceExcessDrawnPerCall(t *testing.T) {
	const d = time.Millisecond
	c := base(d)
	c.Clients = 4
	c.ServiceExcess = []time.Duration{0, time.Millisecond}
	r := run(t, c)
	within(t, "throughput with half the calls late", throughput(r), 1/1.5e-3, 0.02)
	if max := float64(r.Latency.Max()) / 1e9; max < 4*d.Seconds()+2e-3 {
		t.Errorf("slowest request %.2f ms: want at least 6 ms (queued behind late calls)", max*1e3)
	}
}

// The excess is taken from the device calls the sweep recorded at
// single-request points, relative to the point's service time.
func TestCalibrateExcess(t *testing.T) {
	s := &scenarios.Scenario{Workload: scenarios.Workload{Mode: workload.ModeClosed}}
	calls := hist.New()
	for i := 0; i < 1000; i++ {
		calls.Record(int64(1400*time.Microsecond) + int64(i%10)*int64(10*time.Microsecond))
	}
	hc := calls.ToResults()
	lone := results.Record{Kind: results.KindPoint, Status: results.StatusOK,
		Point:       results.Point{Servers: 1, GPUs: 1, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8},
		Measurement: &results.Measurement{Requests: 1000, DeviceCalls: &hc}}
	busy := lone
	busy.Point.Clients = 4
	svc := func(int) time.Duration { return 1400 * time.Microsecond }
	q := CalibrateExcess([]results.Record{busy}, s, svc)
	if q != nil {
		t.Fatalf("excess from a point with 4 clients: %v, want none (contention is the host model's)", q[:3])
	}
	q = CalibrateExcess([]results.Record{lone, busy}, s, svc)
	if len(q) != excessQuantiles {
		t.Fatalf("%d quantiles, want %d", len(q), excessQuantiles)
	}
	// Calls of 1400–1490 µs; the histogram resolves ~0.4% (6 µs).
	if med := float64(q[len(q)/2]) / 1e3; med < 40-6 || med > 50+6 {
		t.Errorf("median excess %.1f µs, want 40–50", med)
	}
	if top := float64(q[len(q)-1]) / 1e3; top < 90-6 || top > 90+6 {
		t.Errorf("largest excess %.1f µs, want 90", top)
	}
	if q[0] < 0 {
		t.Errorf("smallest excess %v, want >= 0", q[0])
	}
}

// simulatedAsMeasured simulates s with the true options and labels the
// records as an embedded sweep's measurements, header included.
func simulatedAsMeasured(t *testing.T, s *scenarios.Scenario, truth Options) []results.Record {
	t.Helper()
	recs, err := Run(context.Background(), s, truth, nil)
	if err != nil {
		t.Fatal(err)
	}
	measured := []results.Record{{Kind: results.KindHeader, Header: &results.Header{Target: scenarios.TargetEmbedded, Env: *truth.Env}}}
	for _, r := range recs {
		r.Source = results.SourceMeasured
		measured = append(measured, r)
	}
	return measured
}

// emulatedGPUSpin is server.EmulatedGPUSpin, written out so that the
// simulator's tests do not import the server.
const emulatedGPUSpin = 120 * time.Microsecond
