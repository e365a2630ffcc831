package telemetry

import (
	"context"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/iaasbench/iaasbench/results"
)

func ser(name string, labels map[string]string, v ...float64) results.Series {
	t := make([]float64, len(v))
	for i := range t {
		t[i] = float64(i) / 10
	}
	return results.Series{Name: name, Labels: labels, T: t, V: v}
}

func TestSummarizeTwoGPUs(t *testing.T) {
	g0 := map[string]string{"gpu": "0"}
	g1 := map[string]string{"gpu": "1"}
	series := []results.Series{
		ser("gpu_util_pct", g0, 10, 20, 30),         // mean 20
		ser("gpu_util_pct", g1, 50, 90),             // mean 70
		ser("gpu_power_w", g0, 100, 110),            // mean 105
		ser("gpu_power_w", g1, 200, 220, 240),       // mean 220
		ser("gpu_energy_j", g0, 1000, 1010, 1021.5), // +21.5
		ser("gpu_energy_j", g1, 5, 30),              // +25
		ser("cpu_util_pct", map[string]string{"source": "host"}, 40, 60),
		// Prometheus figures are ignored while NVML ones exist.
		ser("nv_gpu_utilization", nil, 1, 1),
		ser("nv_gpu_power_usage", nil, 999),
		ser("nv_energy_consumption", nil, 0, 1e6),
		ser("nv_cpu_utilization", nil, 1),
	}
	got := Summarize(series)
	want := results.Telemetry{Series: series, GPUUtilMean: 45, GPUUtilMax: 90, CPUUtilMean: 50, PowerMeanW: 325, EnergyJ: 46.5}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summarize = %+v\nwant %+v", got, want)
	}
}

func TestSummarizeFallbackAndEmpty(t *testing.T) {
	got := Summarize([]results.Series{
		ser("nv_gpu_utilization", nil, 0.1, 0.3),
		ser("nv_cpu_utilization", nil, 0.5),
		ser("gpu_util_pct", nil), // empty series do not count
	})
	if math.Abs(got.GPUUtilMean-20) > 1e-9 || math.Abs(got.GPUUtilMax-30) > 1e-9 || got.CPUUtilMean != 50 {
		t.Errorf("fallback summary %+v, want GPU mean 20 max 30, CPU 50", got)
	}
	if z := Summarize(nil); z.GPUUtilMean != 0 || z.EnergyJ != 0 || z.PowerMeanW != 0 {
		t.Errorf("empty summary %+v", z)
	}
}

// fakeSampler records calls and returns fixed figures.
type fakeSampler struct {
	started, stopped bool
	t0               time.Time
	series           []results.Series
	notes            []string
	util             Utilization
}

func (f *fakeSampler) Name() string                          { return "fake" }
func (f *fakeSampler) Start(_ context.Context, t0 time.Time) { f.started, f.t0 = true, t0 }
func (f *fakeSampler) Stop() ([]results.Series, []string)    { f.stopped = true; return f.series, f.notes }
func (f *fakeSampler) Current() Utilization                  { return f.util }

func TestGroup(t *testing.T) {
	gpu := &fakeSampler{
		series: []results.Series{ser("gpu_util_pct", nil, 10, 30)},
		notes:  []string{"gpu note"},
		util:   Utilization{GPUPct: 20, GPU: true},
	}
	prom := &fakeSampler{util: Utilization{GPUPct: 99, GPU: true, CPUPct: 40, CPU: true}}
	cpu := &fakeSampler{
		series: []results.Series{ser("cpu_util_pct", nil, 70)},
		notes:  []string{"cpu note"},
		util:   Utilization{CPUPct: 70, CPU: true},
	}
	t0 := time.Now()
	g := Start(context.Background(), t0, gpu, prom, cpu)
	for _, f := range []*fakeSampler{gpu, prom, cpu} {
		if !f.started || !f.t0.Equal(t0) {
			t.Fatal("Start did not start every sampler with t0")
		}
	}
	if u := g.Current(); u != (Utilization{GPUPct: 20, GPU: true, CPUPct: 40, CPU: true}) {
		t.Errorf("Current() = %+v: want the first sampler knowing each figure", u)
	}
	tel := g.Stop()
	if !gpu.stopped || !cpu.stopped || !prom.stopped {
		t.Fatal("Stop did not stop every sampler")
	}
	if len(tel.Series) != 2 || !reflect.DeepEqual(tel.Notes, []string{"gpu note", "cpu note"}) {
		t.Errorf("series %v notes %v", tel.Series, tel.Notes)
	}
	if tel.GPUUtilMean != 20 || tel.CPUUtilMean != 70 {
		t.Errorf("summaries %+v", tel)
	}
}

func TestNoteSetCountsRepeats(t *testing.T) {
	var n noteSet
	n.add("a %d", 1)
	n.add("b")
	n.add("a %d", 1)
	n.add("a %d", 1)
	if got, want := n.list(), []string{"a 1 (3 times)", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("notes %q, want %q", got, want)
	}
}

// gpu_used_memory is Model Analyzer's: the most on each GPU, summed, in
// MB (10^6 bytes); the server's own report wins over NVML, and says
// whether it came from an emulated device's profile.
func TestSummarizeMemory(t *testing.T) {
	g0, g1 := map[string]string{"gpu": "0"}, map[string]string{"gpu": "1"}
	nvml := []results.Series{
		ser("gpu_mem_used_mib", g0, 615, 1459, 1335), // max 1459 MiB
		ser("gpu_mem_used_mib", g1, 100, 50),         // max 100 MiB
		ser("gpu_mem_total_mib", g0, 1000, 1000),
		ser("gpu_mem_total_mib", g1, 1000),
	}
	got := Summarize(nvml)
	if got.GPUMemorySource != results.MemoryFromNVML || math.Abs(got.GPUUsedMemoryMB-1559*1.048576) > 1e-9 || math.Abs(got.GPUTotalMemoryMB-2000*1.048576) > 1e-9 {
		t.Errorf("NVML: %s %v of %v MB, want nvml %v of %v", got.GPUMemorySource, got.GPUUsedMemoryMB, got.GPUTotalMemoryMB, 1559*1.048576, 2000*1.048576)
	}
	triton := append(nvml, ser("nv_gpu_memory_used_bytes", map[string]string{"gpu_uuid": "a"}, 2e9, 3e9))
	if got := Summarize(triton); got.GPUMemorySource != results.MemoryFromTriton || got.GPUUsedMemoryMB != 3000 || got.GPUTotalMemoryMB != 0 {
		t.Errorf("Triton: %s %v / %v", got.GPUMemorySource, got.GPUUsedMemoryMB, got.GPUTotalMemoryMB)
	}
	emulated := []results.Series{ser("nv_gpu_memory_used_bytes", map[string]string{"gpu_uuid": "e", "emulated": "true"}, 1.5e9)}
	if got := Summarize(emulated); got.GPUMemorySource != results.MemoryFromDeviceProfile || got.GPUUsedMemoryMB != 1500 {
		t.Errorf("emulated: %s %v", got.GPUMemorySource, got.GPUUsedMemoryMB)
	}
	if got := Summarize(nil); got.GPUMemorySource != "" {
		t.Errorf("nothing: %q", got.GPUMemorySource)
	}
}
