package pacsv

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// paHeader is the header perf_analyzer's documentation shows for
// `perf_analyzer -m inception_graphdef --concurrency-range 1:4 -f perf.csv`
// (docs/measurements_metrics.md, "Reports").
const paHeader = "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,Client Recv,p50 latency,p90 latency,p95 latency,p99 latency"

func meas(ips, mean float64) *results.Measurement {
	return &results.Measurement{Mode: workload.ModeClosed, ThroughputIPS: ips,
		Latency: results.LatencySummary{MeanUS: mean, P50US: 900.9, P90US: 1500.2, P95US: 1700.99, P99US: 2500.4},
		Client:  &results.ClientTimes{SendUS: 12.7, RecvUS: 3.2},
		Server:  &results.Breakdown{QueueUS: 100.9, ComputeInputUS: 10, ComputeInferUS: 700, ComputeOutputUS: 5}}
}

func TestHeaderIsPerfAnalyzers(t *testing.T) {
	if got := strings.Join(Header(Options{}), ","); got != paHeader {
		t.Errorf("header\n%s\nwant\n%s", got, paHeader)
	}
	rr := Header(Options{RequestRate: true})
	if rr[0] != "Request Rate" {
		t.Errorf("open loop first column %q", rr[0])
	}
	got := strings.Join(Header(Options{Percentile: 75, Verbose: true}), ",")
	want := strings.Replace(paHeader, "p50 latency,p90 latency", "p50 latency,p75 latency,p90 latency", 1) + ",request/response,response wait"
	if got != want {
		t.Errorf("--percentile 75 --verbose-csv header\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(Header(Options{Percentile: 95, Verbose: true}), ","); got != paHeader+",request/response,response wait" {
		t.Errorf("--percentile 95 adds no column: %s", got)
	}
	if got := strings.Join(Header(Options{Verbose: true}), ","); got != paHeader+",Avg latency,request/response,response wait" {
		t.Errorf("--verbose-csv without --percentile: %s", got)
	}
}

func TestRowsSortedByThroughputInMicroseconds(t *testing.T) {
	rows := []Row{{Load: 3, M: meas(300.5, 1000)}, {Load: 1, M: meas(100, 1000)}, {Load: 2, M: meas(2000000, 1000.9)}}
	var buf bytes.Buffer
	if err := Write(&buf, rows, Options{Verbose: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		paHeader + ",Avg latency,request/response,response wait",
		// 1000 - 12 - 3 - (100+10+700+5) = 170; times truncated to whole µs
		"1,100,12,170,100,10,700,5,3,900,1500,1700,2500,1000,15,985",
		"3,300.5,12,170,100,10,700,5,3,900,1500,1700,2500,1000,15,985",
		"2,2e+06,12,170,100,10,700,5,3,900,1500,1700,2500,1000,15,985",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d\n%s\nwant\n%s", i+1, lines[i], want[i])
		}
	}
}

func TestNetworkNeverNegativeAndMissingPartsAreZero(t *testing.T) {
	m := &results.Measurement{ThroughputIPS: 10, Latency: results.LatencySummary{MeanUS: 50}, Server: &results.Breakdown{ComputeInferUS: 80}}
	f := Fields(Row{Load: 1, M: m}, Options{})
	if f[2] != "0" || f[3] != "0" || f[8] != "0" {
		t.Errorf("send %s network %s recv %s, want 0 0 0", f[2], f[3], f[8])
	}
}

func TestExtraPercentileFromTheMeasurement(t *testing.T) {
	m := meas(10, 1000)
	m.Latency.Percentile, m.Latency.PercentileUS = 75, 1234.9
	f := Fields(Row{Load: 1, M: m}, Options{Percentile: 75})
	if f[10] != "1234" {
		t.Errorf("p75 column %q, want 1234 (fields %v)", f[10], f)
	}
}

func TestLoadOf(t *testing.T) {
	cases := []struct {
		m    results.Measurement
		p    results.Point
		load float64
		rr   bool
	}{
		{results.Measurement{Mode: workload.ModeClosed, Clients: 2, Concurrency: 3}, results.Point{}, 6, false},
		{results.Measurement{Mode: workload.ModeOpen, RequestRate: 250}, results.Point{}, 250, true},
		// older files: from the point
		{results.Measurement{Mode: workload.ModeClosed}, results.Point{Clients: 2, Servers: 2, Rate: 4}, 16, false},
		{results.Measurement{Mode: workload.ModeOpen}, results.Point{Clients: 1, Servers: 1, Rate: 50}, 50, true},
		{results.Measurement{Mode: workload.ModeClosed, Sequence: true}, results.Point{Clients: 3, Servers: 1, Rate: 50}, 3, false},
	}
	for i, c := range cases {
		load, rr := LoadOf(&c.m, c.p)
		if load != c.load || rr != c.rr {
			t.Errorf("case %d: load %g rate %v, want %g %v", i, load, rr, c.load, c.rr)
		}
	}
}

func TestFromRecords(t *testing.T) {
	ok := func(mode string, ips float64) results.Record {
		m := meas(ips, 1000)
		m.Mode, m.Clients, m.Concurrency, m.RequestRate = mode, 1, 2, 5
		return results.Record{Kind: results.KindPoint, Status: results.StatusOK, Measurement: m}
	}
	recs := []results.Record{{Kind: results.KindHeader}, ok(workload.ModeClosed, 5),
		{Kind: results.KindPoint, Status: results.StatusFailed}, ok(workload.ModeClosed, 3)}
	rows, o, err := FromRecords(recs)
	if err != nil || len(rows) != 2 || o.RequestRate {
		t.Fatalf("rows %d, options %+v, err %v", len(rows), o, err)
	}
	if _, _, err := FromRecords(append(recs, ok(workload.ModeOpen, 1))); err == nil || !strings.Contains(err.Error(), "mixes") {
		t.Errorf("mixed modes: err %v", err)
	}
	if _, _, err := FromRecords(recs[:1]); err == nil {
		t.Error("no points: no error")
	}
}

// --collect-metrics: perf_analyzer's four GPU columns after the verbose
// ones, "uuid:value;" per GPU ordered by UUID, utilization and power as
// means, memory used as the most; Triton's gauges win over NVML's series,
// and NVML's units are converted (percent → ratio, MiB → bytes).
func TestGPUMetricColumns(t *testing.T) {
	o := Options{Verbose: true, Metrics: true}
	h := Header(o)
	if got := strings.Join(h[len(h)-4:], ","); got != "Avg GPU Utilization,Avg GPU Power Usage,Max GPU Memory Usage,Total GPU Memory" {
		t.Fatalf("metric columns %q", got)
	}
	if len(Header(Options{Metrics: true})) != len(Header(Options{})) {
		t.Error("metric columns without --verbose-csv: perf_analyzer writes them only in the verbose CSV")
	}
	prom := func(name, uuid string, v ...float64) results.Series {
		return results.Series{Name: name, Labels: map[string]string{"gpu_uuid": uuid, "source": "prometheus"}, V: v}
	}
	m := meas(1000, 1000)
	m.Telemetry = &results.Telemetry{Series: []results.Series{
		prom("nv_gpu_utilization", "GPU-b", 0.5, 0.7),
		prom("nv_gpu_utilization", "GPU-a", 0.25, 0.25),
		prom("nv_gpu_power_usage", "GPU-a", 100, 200),
		prom("nv_gpu_power_usage", "GPU-b", 300, 300),
		prom("nv_gpu_memory_used_bytes", "GPU-a", 1e9, 3e9, 2e9),
		prom("nv_gpu_memory_used_bytes", "GPU-b", 5e8),
		prom("nv_gpu_memory_total_bytes", "GPU-a", 8e10),
		prom("nv_gpu_memory_total_bytes", "GPU-b", 8e10),
		// NVML saw other numbers: the server's gauges are what perf_analyzer reads.
		{Name: "gpu_util_pct", Labels: map[string]string{"uuid": "GPU-a"}, V: []float64{99}},
	}}
	f := Fields(Row{Load: 1, M: m}, o)
	want := []string{"GPU-a:0.25;GPU-b:0.6;", "GPU-a:150;GPU-b:300;", "GPU-a:3000000000;GPU-b:500000000;", "GPU-a:80000000000;GPU-b:80000000000;"}
	if got := f[len(f)-4:]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("from Triton's gauges: %q, want %q", got, want)
	}

	nvml := func(name string, v ...float64) results.Series {
		return results.Series{Name: name, Labels: map[string]string{"gpu": "0", "uuid": "GPU-n", "source": "nvml"}, V: v}
	}
	m.Telemetry = &results.Telemetry{Series: []results.Series{
		nvml("gpu_util_pct", 40, 60), nvml("gpu_power_w", 250), nvml("gpu_mem_used_mib", 1024, 2048), nvml("gpu_mem_total_mib", 81920),
	}}
	f = Fields(Row{Load: 1, M: m}, o)
	want = []string{"GPU-n:0.5;", "GPU-n:250;", "GPU-n:2147483648;", "GPU-n:85899345920;"}
	if got := f[len(f)-4:]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("from NVML: %q, want %q", got, want)
	}

	m.Telemetry = nil
	f = Fields(Row{Load: 1, M: m}, o)
	if got := f[len(f)-4:]; strings.Join(got, "") != "" || len(f) != len(h) {
		t.Errorf("no GPU: %q (%d fields, header %d)", got, len(f), len(h))
	}
}
