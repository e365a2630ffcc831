package cost

import (
	"bytes"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// Model Analyzer's tags name our figures in its units.
func TestModelAnalyzerNames(t *testing.T) {
	for _, tc := range []struct {
		text, figure string
		value        float64
	}{
		{"perf_latency_p99 <= 100", "p99", 100},
		{"perf_throughput >= 5", "throughput", 5},
		{"gpu_used_memory <= 200", "gpu_used_memory", 200},
		{"gpu_used_memory <= 2 GB", "gpu_used_memory", 2000},
		{"gpu_used_memory <= 1GiB", "gpu_used_memory", 1073.741824},
		{"perf_server_queue <= 500us", "server_queue", 0.5},
		{"gpu_utilization >= 50%", "gpu_util", 50},
		{"gpu_power_usage <= 300 W", "gpu_power", 300},
	} {
		c, err := ParseConstraint(tc.text)
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		if c.Figure != tc.figure || c.Value != tc.value || c.Text != tc.text {
			t.Errorf("%s: got %+v", tc.text, c)
		}
	}
	if _, err := ParseConstraint("cpu_used_ram <= 3"); err == nil || !strings.Contains(err.Error(), "perf_latency_p99") {
		t.Errorf("unmapped tag: %v (want the list of accepted names)", err)
	}
}

// gpu_used_memory and the server-side times are figures of a record,
// with the memory's source kept in the record.
func TestMemoryAndServerFigures(t *testing.T) {
	r := rec(results.Point{Instances: 1, Clients: 1}, 1000, 2)
	if _, err := Figure(r, Expense{}, "gpu_used_memory"); err == nil {
		t.Error("memory without telemetry: want an error")
	}
	r.Measurement.Telemetry = &results.Telemetry{GPUUsedMemoryMB: 1530, GPUMemorySource: results.MemoryFromDeviceProfile}
	r.Measurement.Server = &results.Breakdown{QueueUS: 250, ComputeInferUS: 125, RequestCount: 10}
	for name, want := range map[string]float64{"gpu_used_memory": 1530, "perf_server_queue": 0.25, "server_compute_infer": 0.125} {
		got, err := Figure(r, Expense{}, name)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	if _, err := Figure(r, Expense{}, "gpu_free_memory"); err == nil || !strings.Contains(err.Error(), "device-profile") {
		t.Errorf("free memory without a total: %v", err)
	}
}

// Model Analyzer's objectives: a list is equal weights, a mapping
// weights; the direction comes from the figure.
func TestModelAnalyzerObjectives(t *testing.T) {
	recs := []results.Record{
		rec(results.Point{Instances: 1, Clients: 1}, 1000, 2),
		rec(results.Point{Instances: 2, Clients: 1}, 3000, 2.2),
		rec(results.Point{Instances: 4, Clients: 1}, 3200, 9),
	}
	spec := Spec{Prices: examplePrices(), Objectives: map[string]float64{"perf_throughput": 1}}
	op, err := Choose(mustEvaluate(t, recs, spec), nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	if op.Best == nil || op.Best.Point.Instances != 4 {
		t.Fatalf("perf_throughput alone: best %v, want the most throughput (instances=4)", op.Best)
	}
	// Latency and throughput weighted equally: the 3200/s point's 9 ms
	// p99 costs more than its throughput gains, and 3000/s at 2.2 ms
	// beats 1000/s at 2 ms.
	spec.Objectives = map[string]float64{"perf_latency_p99": 1, "perf_throughput": 1}
	op, err = Choose(mustEvaluate(t, recs, spec), nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	if op.Best == nil || op.Best.Point.Instances != 2 {
		t.Fatalf("p99 1 : throughput 1: best %v, want instances=2", op.Best.Point)
	}
	for _, bad := range []Spec{
		{Prices: examplePrices(), Objective: "p99", Objectives: map[string]float64{"perf_throughput": 1}},
		{Prices: examplePrices(), Objectives: map[string]float64{"perf_throughput": 0}},
		{Prices: examplePrices(), Objectives: map[string]float64{"p99": 1, "perf_latency_p99": 1}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}

// The what-if analysis: prices and constraints change the operating
// point without new records; an impossible constraint names itself.
func TestAnalyzeWhatIf(t *testing.T) {
	var recs []results.Record
	for _, g := range []int{1, 2} {
		for _, c := range []int{1, 2, 4} {
			// Two GPUs double throughput and halve latency.
			recs = append(recs, rec(results.Point{GPUs: g, Instances: 1, Clients: c, BatchSize: 8}, float64(1000*g*c), float64(2*c)/float64(g)))
		}
	}
	spec := Spec{Prices: Prices{GPUHour: map[string]float64{"default": 1}, NodeHour: 0.5}, Constraints: []string{"p99 <= 5ms"}}
	a, err := Analyze(recs, nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.Feasible != 5 || a.Exclusions[0].Excluded != 1 {
		t.Errorf("feasible %d, excluded %+v; want 5 feasible, 1 excluded (gpus=1 clients=4: 8 ms)", a.Feasible, a.Exclusions)
	}
	if b := a.Operating.Best.Point; b.GPUs != 2 || b.Clients != 4 {
		t.Errorf("best %v, want gpus=2 clients=4 (8000/s for $2.5/h)", b)
	}
	// A tighter budget moves it: 1 ms leaves only two GPUs at one client.
	spec.Constraints = []string{"p99 <= 1ms"}
	a, _ = Analyze(recs, nil, spec)
	if b := a.Operating.Best.Point; b.GPUs != 2 || b.Clients != 1 {
		t.Errorf("1 ms: best %v, want gpus=2 clients=1", b)
	}
	// An impossible one: an error naming it.
	spec.Constraints = []string{"throughput >= 1/s", "p99 <= 0.1ms"}
	a, _ = Analyze(recs, nil, spec)
	err = a.Infeasible()
	if err == nil || !strings.Contains(err.Error(), `"p99 <= 0.1ms" excludes 6 of 6`) {
		t.Errorf("impossible: %v", err)
	}
	var out bytes.Buffer
	a.WriteText(&out)
	if !strings.Contains(out.String(), "operating point: none") {
		t.Errorf("text:\n%s", out.String())
	}
	// Fit quality is reported per fitted figure.
	spec.Constraints = []string{"p99 <= 5ms"}
	a, _ = Analyze(recs, nil, spec)
	if len(a.Operating.Quality) == 0 {
		t.Fatal("no fit quality")
	}
	out.Reset()
	a.WriteText(&out)
	for _, want := range []string{"feasible: 5 of 6", "fit quality (leave-one-out error of each surface over gpus, clients)", "p99", "Pareto frontier"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSetPrice(t *testing.T) {
	p := Prices{GPUHour: map[string]float64{"default": 1}, GPUType: "emulated"}
	for k, v := range map[string]string{"gpu_hour": "$4", "gpu_hour.H200": "6", "node_hour": "0.25"} {
		if err := p.SetPrice(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if p.GPUHour["emulated"] != 4 || p.GPUHour["H200"] != 6 || p.NodeHour != 0.25 || p.GPUHour["default"] != 1 {
		t.Errorf("%+v", p)
	}
	if err := p.SetPrice("gpu_hourly", "1"); err == nil {
		t.Error("unknown key: want an error")
	}
	if err := p.SetPrice("node_hour", "-1"); err == nil {
		t.Error("negative: want an error")
	}
}
