//go:build cgo

package telemetry

import (
	"context"
	"encoding/csv"
	"math"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"

	"github.com/iaasbench/iaasbench/results"
)

// fixtureRow is one line of testdata/nvml-h200-samples.csv, real H200
// samples at 10 Hz.
type fixtureRow struct {
	t                     float64
	gpu                   int
	util, memUtil, memMiB float64
	powerW, energyJ       float64
}

func loadFixture(t *testing.T) []fixtureRow {
	t.Helper()
	f, err := os.Open("testdata/nvml-h200-samples.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "t_s,gpu,util_pct,mem_util_pct,mem_used_mib,power_w,energy_j" {
		t.Fatalf("unexpected header %v", recs[0])
	}
	var rows []fixtureRow
	for i, r := range recs[1:] {
		v := make([]float64, len(r))
		for j := range r {
			if v[j], err = strconv.ParseFloat(r[j], 64); err != nil {
				t.Fatalf("fixture line %d field %d: %v", i+2, j+1, err)
			}
		}
		rows = append(rows, fixtureRow{t: v[0], gpu: int(v[1]), util: v[2], memUtil: v[3], memMiB: v[4], powerW: v[5], energyJ: v[6]})
	}
	return rows
}

// fixtureDevice is a go-nvml mock device that answers from rows[*step],
// in NVML's own units (mW, mJ, bytes).
func fixtureDevice(index int, rows []fixtureRow, step *int) *mock.Device {
	return &mock.Device{
		GetUUIDFunc: func() (string, nvml.Return) { return "GPU-fixture-" + strconv.Itoa(index), nvml.SUCCESS },
		GetNameFunc: func() (string, nvml.Return) { return "NVIDIA H200", nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			r := rows[*step]
			return nvml.Utilization{Gpu: uint32(r.util), Memory: uint32(r.memUtil)}, nvml.SUCCESS
		},
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			r := rows[*step]
			return nvml.Memory{Total: 141 << 30, Used: uint64(r.memMiB) << 20}, nvml.SUCCESS
		},
		GetPowerUsageFunc: func() (uint32, nvml.Return) {
			return uint32(math.Round(rows[*step].powerW * 1e3)), nvml.SUCCESS
		},
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) {
			return uint64(math.Round(rows[*step].energyJ * 1e3)), nvml.SUCCESS
		},
	}
}

// mockLib serves devs through go-nvml's mock Interface and counts Init
// and Shutdown calls.
func mockLib(devs []*mock.Device, inits, shutdowns *atomic.Int64) *mock.Interface {
	return &mock.Interface{
		InitFunc:                   func() nvml.Return { inits.Add(1); return nvml.SUCCESS },
		ShutdownFunc:               func() nvml.Return { shutdowns.Add(1); return nvml.SUCCESS },
		DeviceGetCountFunc:         func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		SystemGetDriverVersionFunc: func() (string, nvml.Return) { return "580.159.04", nvml.SUCCESS },
		SystemGetNVMLVersionFunc:   func() (string, nvml.Return) { return "13.580.159.04", nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}
}

func find(series []results.Series, name, gpu string) *results.Series {
	for i := range series {
		if series[i].Name == name && series[i].Labels["gpu"] == gpu {
			return &series[i]
		}
	}
	return nil
}

func TestNVMLFixtureSummaries(t *testing.T) {
	rows := loadFixture(t)
	step := 0
	var inits, shutdowns atomic.Int64
	s := NewNVMLWithLib(mockLib([]*mock.Device{fixtureDevice(0, rows, &step)}, &inits, &shutdowns), 0)
	if !s.open() {
		t.Fatalf("open failed: %v", s.notes.list())
	}
	for i, r := range rows {
		step = i
		s.sample(context.Background(), r.t)
	}
	series, notes := s.Stop()
	if len(notes) != 0 {
		t.Fatalf("notes %v", notes)
	}
	if shutdowns.Load() != inits.Load() {
		t.Errorf("%d Init, %d Shutdown", inits.Load(), shutdowns.Load())
	}

	// Expected figures straight from the CSV.
	var utilSum, utilMax, powerSum float64
	for _, r := range rows {
		utilSum += r.util
		utilMax = math.Max(utilMax, r.util)
		powerSum += r.powerW
	}
	n := float64(len(rows))
	sum := Summarize(series)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.9g, want %.9g", name, got, want)
		}
	}
	near("GPUUtilMean", sum.GPUUtilMean, utilSum/n)
	near("GPUUtilMax", sum.GPUUtilMax, utilMax)
	near("PowerMeanW", sum.PowerMeanW, powerSum/n)
	near("EnergyJ", sum.EnergyJ, rows[len(rows)-1].energyJ-rows[0].energyJ)
	if sum.GPUUtilMax == 0 || sum.EnergyJ <= 0 {
		t.Errorf("fixture should show load and energy: %+v", sum)
	}

	// Each series carries the CSV's values, converted from NVML's units.
	for _, c := range []struct {
		name, unit string
		col        func(fixtureRow) float64
	}{
		{"gpu_util_pct", "%", func(r fixtureRow) float64 { return r.util }},
		{"gpu_mem_util_pct", "%", func(r fixtureRow) float64 { return r.memUtil }},
		{"gpu_mem_used_mib", "MiB", func(r fixtureRow) float64 { return r.memMiB }},
		{"gpu_power_w", "W", func(r fixtureRow) float64 { return r.powerW }},
		{"gpu_energy_j", "J", func(r fixtureRow) float64 { return r.energyJ }},
	} {
		ser := find(series, c.name, "0")
		if ser == nil {
			t.Errorf("no series %s", c.name)
			continue
		}
		if ser.Unit != c.unit || ser.Labels["uuid"] != "GPU-fixture-0" || ser.Labels["name"] != "NVIDIA H200" || ser.Labels["source"] != "nvml" {
			t.Errorf("%s: unit %q labels %v", c.name, ser.Unit, ser.Labels)
		}
		if len(ser.V) != len(rows) {
			t.Errorf("%s: %d points, want %d", c.name, len(ser.V), len(rows))
			continue
		}
		for i, r := range rows {
			if math.Abs(ser.V[i]-c.col(r)) > 1e-9 || ser.T[i] != r.t {
				t.Errorf("%s[%d] = (%g, %g), want (%g, %g)", c.name, i, ser.T[i], ser.V[i], r.t, c.col(r))
				break
			}
		}
	}
}

func TestNVMLUnitConversion(t *testing.T) {
	dev := &mock.Device{
		GetUUIDFunc:                   func() (string, nvml.Return) { return "GPU-x", nvml.SUCCESS },
		GetNameFunc:                   func() (string, nvml.Return) { return "NVIDIA H100", nvml.SUCCESS },
		GetUtilizationRatesFunc:       func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: 37, Memory: 12}, nvml.SUCCESS },
		GetMemoryInfoFunc:             func() (nvml.Memory, nvml.Return) { return nvml.Memory{Used: 1536 << 20}, nvml.SUCCESS },
		GetPowerUsageFunc:             func() (uint32, nvml.Return) { return 123456, nvml.SUCCESS },     // mW
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) { return 9876543210, nvml.SUCCESS }, // mJ
	}
	var inits, shutdowns atomic.Int64
	s := NewNVMLWithLib(mockLib([]*mock.Device{dev}, &inits, &shutdowns), 0)
	s.open()
	s.sample(context.Background(), 0.5)
	series, _ := s.Stop()
	for name, want := range map[string]float64{
		"gpu_util_pct": 37, "gpu_mem_util_pct": 12, "gpu_mem_used_mib": 1536,
		"gpu_power_w": 123.456, "gpu_energy_j": 9876543.21,
	} {
		if ser := find(series, name, "0"); ser == nil || len(ser.V) != 1 || math.Abs(ser.V[0]-want) > 1e-9 {
			t.Errorf("%s = %+v, want %g", name, ser, want)
		}
	}
	if u := s.Current(); !u.GPU || u.GPUPct != 37 {
		t.Errorf("Current() = %+v, want GPU 37%%", u)
	}
}

func TestNVMLDeviceErrorsAreNotes(t *testing.T) {
	rows := []fixtureRow{{util: 50, memMiB: 10, powerW: 100, energyJ: 1}}
	step := 0
	good := fixtureDevice(0, rows, &step)
	bad := fixtureDevice(1, rows, &step)
	var powerCalls, energyCalls atomic.Int64
	bad.GetPowerUsageFunc = func() (uint32, nvml.Return) { powerCalls.Add(1); return 0, nvml.ERROR_UNKNOWN }
	bad.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { energyCalls.Add(1); return 0, nvml.ERROR_NOT_SUPPORTED }
	var inits, shutdowns atomic.Int64
	s := NewNVMLWithLib(mockLib([]*mock.Device{good, bad}, &inits, &shutdowns), 0)
	s.open()
	for i := range 3 {
		s.sample(context.Background(), float64(i))
	}
	series, notes := s.Stop()
	if find(series, "gpu_power_w", "0") == nil || find(series, "gpu_energy_j", "0") == nil || find(series, "gpu_util_pct", "1") == nil {
		t.Error("a failing read on GPU 1 stopped other reads")
	}
	if find(series, "gpu_power_w", "1") != nil || find(series, "gpu_energy_j", "1") != nil {
		t.Error("failed reads produced series")
	}
	if powerCalls.Load() != 3 || energyCalls.Load() != 1 {
		t.Errorf("power read %d times (want 3: errors are retried), energy %d (want 1: unsupported is not)", powerCalls.Load(), energyCalls.Load())
	}
	want := []string{
		"NVML gpu 1: GetPowerUsage failed: " + nvml.ERROR_UNKNOWN.Error() + " (3 times)",
		"NVML gpu 1: GetTotalEnergyConsumption: " + nvml.ERROR_NOT_SUPPORTED.Error() + "; not sampled",
	}
	if strings.Join(notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes\n%q\nwant\n%q", notes, want)
	}
}

func TestNVMLInitFailureIsOneNote(t *testing.T) {
	lib := &mock.Interface{InitFunc: func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }}
	s := NewNVMLWithLib(lib, time.Millisecond)
	s.Start(context.Background(), time.Now())
	time.Sleep(5 * time.Millisecond)
	series, notes := s.Stop()
	if len(series) != 0 {
		t.Errorf("series without NVML: %v", series)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "NVML unavailable: no NVIDIA driver found") || !strings.HasSuffix(notes[0], "GPU telemetry skipped") {
		t.Errorf("notes %q, want one 'NVML unavailable: no NVIDIA driver found ...; GPU telemetry skipped'", notes)
	}
	if len(lib.ShutdownCalls()) != 0 {
		t.Error("Shutdown called after a failed Init")
	}
	if _, err := s.Info(); err == nil || !strings.Contains(err.Error(), "no NVIDIA driver") {
		t.Errorf("Info error %v", err)
	}
	if s.Current().GPU {
		t.Error("Current reports a GPU utilization without NVML")
	}
}

func TestNVMLInfo(t *testing.T) {
	rows := []fixtureRow{{}}
	step := 0
	var inits, shutdowns atomic.Int64
	lib := mockLib([]*mock.Device{fixtureDevice(0, rows, &step), fixtureDevice(1, rows, &step)}, &inits, &shutdowns)
	info, err := NewNVMLWithLib(lib, 0).Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Driver != "580.159.04" || info.NVMLVersion != "13.580.159.04" || len(info.GPUs) != 2 || info.GPUs[1].UUID != "GPU-fixture-1" {
		t.Errorf("info %+v", info)
	}
	if names := info.Names(); len(names) != 2 || names[0] != "NVIDIA H200" {
		t.Errorf("names %v", names)
	}
	if inits.Load() != 1 || shutdowns.Load() != 1 {
		t.Errorf("%d Init, %d Shutdown, want 1 each", inits.Load(), shutdowns.Load())
	}
}

func TestNVMLSamplesOnItsGoroutine(t *testing.T) {
	rows := []fixtureRow{{util: 42, memMiB: 100, powerW: 90, energyJ: 5}}
	step := 0
	var inits, shutdowns atomic.Int64
	s := NewNVMLWithLib(mockLib([]*mock.Device{fixtureDevice(0, rows, &step)}, &inits, &shutdowns), time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.Start(ctx, time.Now())
	waitFor(t, func() bool { return s.Current().GPU })
	time.Sleep(5 * time.Millisecond)
	series, notes := s.Stop()
	if len(notes) != 0 {
		t.Errorf("notes %v", notes)
	}
	u := find(series, "gpu_util_pct", "0")
	if u == nil || len(u.V) < 2 || u.V[0] != 42 {
		t.Fatalf("gpu_util_pct %+v, want ≥ 2 samples of 42 (first at start, last at stop)", u)
	}
	if shutdowns.Load() != 1 {
		t.Errorf("Shutdown called %d times, want 1", shutdowns.Load())
	}
}

// TestNVMLRealLibrary runs against whatever this machine has: without a
// driver it must say so in one note; with one it must sample.
func TestNVMLRealLibrary(t *testing.T) {
	s := NewNVML(10 * time.Millisecond)
	_, infoErr := s.Info()
	s.Start(context.Background(), time.Now())
	time.Sleep(30 * time.Millisecond)
	series, notes := s.Stop()
	t.Logf("info error %v; notes %q", infoErr, notes)
	if infoErr != nil {
		if len(series) != 0 || len(notes) != 1 || !strings.HasPrefix(notes[0], "NVML unavailable") {
			t.Errorf("no NVML (%v): series %d, notes %q", infoErr, len(series), notes)
		}
		return
	}
	if find(series, "gpu_util_pct", "0") == nil {
		t.Errorf("NVML works but no gpu_util_pct series; notes %q", notes)
	}
}
