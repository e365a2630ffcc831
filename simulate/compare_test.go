package simulate

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

// fakeMeasured simulates s with a known overhead and labels the records
// measured: a stand-in sweep whose truth is known.
func fakeMeasured(t *testing.T, overhead time.Duration) []results.Record {
	t.Helper()
	recs, err := Run(context.Background(), builtin(t, "quickstart"), Options{Profile: h200(t), Overhead: overhead, Seed: 7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		recs[i].Source = results.SourceMeasured
	}
	return recs
}

func TestValidateCalibratesOverheadAndMatches(t *testing.T) {
	s := builtin(t, "quickstart")
	measured := fakeMeasured(t, 150*time.Microsecond)
	v, err := Validate(context.Background(), s, measured, Options{Profile: h200(t)}, FitOverhead)
	if err != nil {
		t.Fatal(err)
	}
	if v.Calibration == nil || len(v.Calibration.From) != 4 { // gpus × instances at one client
		t.Fatalf("calibration %+v; want it fitted on the 4 one-client points", v.Calibration)
	}
	// p50 is read from a histogram (0.4% of ~275us): ±2us.
	if d := v.Overhead - 150*time.Microsecond; d < -2*time.Microsecond || d > 2*time.Microsecond {
		t.Errorf("calibrated overhead %v, want 150us", v.Overhead)
	}
	if len(v.Warnings) != 0 {
		t.Errorf("warnings on a measurement that follows the profile: %v", v.Warnings)
	}
	if len(v.Rows) != 12 {
		t.Fatalf("%d comparison rows, want 12", len(v.Rows))
	}
	if v.MaxThroughputErrPct > 1 || v.MaxP99ErrPct > 2 {
		t.Errorf("simulating the simulation: errors %.2f%% / %.2f%%, want ~0", v.MaxThroughputErrPct, v.MaxP99ErrPct)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, v.Rows); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"measured thr", "simulated p99", "err%", "gpu=2 inst=2 cli=4", "12 points"} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison table lacks %q:\n%s", want, out)
		}
	}
}

// A measured point 20% slower than simulated shows as +25% error there
// and nowhere else; failed measured points are left out.
func TestCompareFlagsTheDifferingPoint(t *testing.T) {
	measured := fakeMeasured(t, DefaultOverhead)
	sim := fakeMeasured(t, DefaultOverhead)
	measured[3].Measurement.ThroughputIPS *= 0.8
	measured[5].Status = results.StatusFailed
	rows := Compare(measured, sim)
	if len(rows) != 11 {
		t.Fatalf("%d rows, want 11 (the failed point left out)", len(rows))
	}
	for _, r := range rows {
		want := 0.0
		if r.Point == measured[3].Point {
			want = 25
		}
		if math.Abs(r.IPSErrPct-want) > 1e-6 {
			t.Errorf("point %s: throughput error %.3f%%, want %g%%", r.Point, r.IPSErrPct, want)
		}
	}
}

// Trials of one point are averaged.
func TestCompareAveragesTrials(t *testing.T) {
	p := results.Point{GPUs: 1, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8, Servers: 1}
	rec := func(trial int, ips, p99 float64, src results.Source) results.Record {
		return results.Record{Kind: results.KindPoint, Point: p, Trial: trial, Status: results.StatusOK, Source: src,
			Measurement: &results.Measurement{ThroughputIPS: ips, Latency: results.LatencySummary{P50US: p99 / 2, P99US: p99}}}
	}
	rows := Compare([]results.Record{rec(0, 900, 200, "measured"), rec(1, 1100, 400, "measured")},
		[]results.Record{rec(0, 1100, 330, "simulated")})
	if len(rows) != 1 || rows[0].Trials != 2 || rows[0].MeasuredIPS != 1000 || rows[0].MeasuredP99US != 300 ||
		math.Abs(rows[0].IPSErrPct-10) > 1e-9 || math.Abs(rows[0].P99ErrPct-10) > 1e-9 ||
		rows[0].MeasuredP50US != 150 || math.Abs(rows[0].P50ErrPct-10) > 1e-9 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestCalibrateNeedsALightlyLoadedPoint(t *testing.T) {
	s := builtin(t, "quickstart")
	var busy []results.Record
	for _, r := range fakeMeasured(t, DefaultOverhead) {
		if r.Point.Clients == 4 {
			r.Measurement.Server = nil
			busy = append(busy, r)
		}
	}
	if _, err := CalibrateOverhead(busy, s, h200(t).ServiceTime); err == nil || !strings.Contains(err.Error(), "--overhead-us") {
		t.Fatalf("calibrating from saturated points without breakdown: %v", err)
	}
	// With the servers' breakdown the least-loaded points still tell it.
	var withBreakdown []results.Record
	for _, r := range fakeMeasured(t, 80*time.Microsecond) {
		if r.Point.Clients == 2 {
			withBreakdown = append(withBreakdown, r)
		}
	}
	cal, err := CalibrateOverhead(withBreakdown, s, h200(t).ServiceTime)
	if err != nil {
		t.Fatal(err)
	}
	if d := cal.Overhead - 80*time.Microsecond; d < -2*time.Microsecond || d > 2*time.Microsecond {
		t.Errorf("overhead from the breakdown %v, want 80us (%s)", cal.Overhead, cal.How)
	}
}

// A device that overslept its profile is pointed out, since no overhead
// can make up for it.
func TestValidateWarnsWhenTheDeviceStraysFromItsProfile(t *testing.T) {
	measured := fakeMeasured(t, DefaultOverhead)
	for i := range measured {
		if measured[i].Point.Clients == 1 && measured[i].Point.GPUs == 1 && measured[i].Point.Instances == 1 {
			measured[i].Measurement.Server.ComputeInferUS = 1000
		}
	}
	v, err := Validate(context.Background(), builtin(t, "quickstart"), measured, Options{Profile: h200(t), Overhead: DefaultOverhead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "1000us") {
		t.Fatalf("warnings %v; want one about the 1000us compute time", v.Warnings)
	}
	if v.Calibration != nil || v.Overhead != DefaultOverhead {
		t.Errorf("a given overhead was recalibrated: %+v", v)
	}
}

// A device slower than its profile by a constant: --fit-service recovers
// the constant from the servers' compute time, then the overhead on top.
func TestValidateFitsServiceOffset(t *testing.T) {
	s := builtin(t, "quickstart")
	measured, err := Run(context.Background(), s, Options{Profile: h200(t), Overhead: 100 * time.Microsecond, ServiceOffset: 300 * time.Microsecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	off, err := CalibrateService(measured, s, h200(t).ServiceTime)
	if err != nil {
		t.Fatal(err)
	}
	if d := off - 300*time.Microsecond; d < -time.Microsecond || d > time.Microsecond {
		t.Fatalf("fitted service offset %v, want 300us", off)
	}
	v, err := Validate(context.Background(), s, measured, Options{Profile: h200(t)}, FitOverhead|FitService)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Overhead - 100*time.Microsecond; d < -3*time.Microsecond || d > 3*time.Microsecond {
		t.Errorf("overhead fitted on top of the offset: %v, want 100us", v.Overhead)
	}
	if v.MaxThroughputErrPct > 1 || v.MaxP99ErrPct > 2 || len(v.Warnings) != 0 {
		t.Errorf("errors %.2f%% / %.2f%%, warnings %v; want ~0 and none", v.MaxThroughputErrPct, v.MaxP99ErrPct, v.Warnings)
	}
	// Without the service fit the same measurements warn and miss.
	v, err = Validate(context.Background(), s, measured, Options{Profile: h200(t)}, FitOverhead)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Warnings) == 0 || v.MaxThroughputErrPct < 10 {
		t.Errorf("a device 300us slower than its profile passed unnoticed: errors %.1f%%, warnings %v", v.MaxThroughputErrPct, v.Warnings)
	}
}
