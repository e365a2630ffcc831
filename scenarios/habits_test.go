package scenarios

import (
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/results"
)

// Model Analyzer's ranges (config.md: start/stop with an optional step of
// 1, stop included as in range(start, stop+1, step)) and its
// comma-delimited lists sit beside ours.
func TestModelAnalyzerRangesAndLists(t *testing.T) {
	s, err := Parse([]byte(`
workload: {model: mlp}
dimensions:
  clients: {start: 2, stop: 64, step: 8}
  batch_size: "1,2,3"
  instances: {start: 4, stop: 9}
`), "ma.yaml")
	if err != nil {
		t.Fatal(err)
	}
	check := func(dim string, want ...float64) {
		t.Helper()
		got, err := s.DimensionValues(dim)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s = %v, want %v", dim, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s = %v, want %v", dim, got, want)
			}
		}
	}
	// The docs' own example: 2, 10, ..., 58 (64 is not on a step).
	check("clients", 2, 10, 18, 26, 34, 42, 50, 58)
	check("batch_size", 1, 2, 3)
	check("instances", 4, 5, 6, 7, 8, 9)
	// The canonical form parses back to the same scenario.
	s2, err := Parse(s.YAML(), "again.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, s.YAML())
	}
	if s2.Hash() != s.Hash() {
		t.Error("hash changed through YAML()")
	}

	for _, tc := range []struct{ src, want string }{
		{"clients: {start: 4}", "ma.yaml:4: dimensions.clients: a Model Analyzer range needs start and stop"},
		{"clients: {start: 1, to: 4}", "ma.yaml:4: dimensions.clients: a Model Analyzer range needs start and stop"},
		{"clients: \"1,x,3\"", `ma.yaml:4: dimensions.clients[1]: want a number, got "x"`},
	} {
		_, err := Parse([]byte("workload: {model: mlp}\n\ndimensions:\n  "+tc.src+"\n"), "ma.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %s", tc.src, err, tc.want)
		}
	}
}

// Constraints and objectives under Model Analyzer's names and in its
// forms; check parses them, so a bad figure fails before any sweep.
func TestModelAnalyzerConstraintsObjectives(t *testing.T) {
	s, err := Parse([]byte(`
workload: {model: mlp}
target: {kind: remote, urls: ["127.0.0.1:8001"]}
cost:
  prices: {node_hour: 1}
  constraints:
    perf_latency_p99: {max: 100}
    perf_throughput: {min: 5}
    gpu_used_memory: {max: 200}
  objectives:
    perf_latency_p99: 2
    perf_throughput: 3
`), "ma.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"perf_latency_p99 <= 100", "perf_throughput >= 5", "gpu_used_memory <= 200"}
	if strings.Join(s.Cost.Constraints, "|") != strings.Join(want, "|") {
		t.Errorf("constraints %q, want %q", s.Cost.Constraints, want)
	}
	c, err := s.Cost.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	// MA's weights 2:3 become 0.4 and 0.6, throughput's negated (maximised).
	if c.Objective != "weighted" || c.Weights["p99"] != 0.4 || c.Weights["throughput"] != -0.6 {
		t.Errorf("canonical %q %v", c.Objective, c.Weights)
	}
	s2, err := Parse([]byte("workload: {model: mlp}\ncost:\n  prices: {node_hour: 1}\n  objectives: [perf_throughput]\n"), "l.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := s2.Cost.Canonical(); c.Objective != "throughput" {
		t.Errorf("list objectives: %q", c.Objective)
	}
	if _, err := Parse(s.YAML(), "again.yaml"); err != nil {
		t.Errorf("YAML() does not parse back: %v\n%s", err, s.YAML())
	}

	for _, tc := range []struct{ src, want string }{
		// The example: passed check, failed after the sweep.
		{"  constraints: [\"gpu_used_memory <= 10000\", \"gpu_memory <= 3\"]", `bad.yaml:4: cost.constraints[1]: constraint "gpu_memory <= 3": unknown figure "gpu_memory"`},
		{"  constraints:\n    perf_latency_p99: {maximum: 3}", `bad.yaml:5: cost.constraints.perf_latency_p99.maximum: unknown bound`},
		{"  constraints:\n    perf_latncy_p99: {max: 3}", `bad.yaml:5: cost.constraints[0]: constraint "perf_latncy_p99 <= 3": unknown figure "perf_latncy_p99"`},
		{"  objective: perf_thruput", `bad.yaml:4: cost.objective: unknown figure "perf_thruput" (did you mean "perf_throughput"?)`},
		{"  objectives: [perf_throughput, gpu_mem]", `bad.yaml:4: cost.objectives.gpu_mem: unknown figure`},
		{"  objectives: {perf_throughput: -1}", `bad.yaml:4: cost.objectives.perf_throughput: weight must be > 0`},
		{"  objective: p99\n  objectives: [perf_throughput]", `cost.objectives: give objectives (Model Analyzer's form) or objective and weights, not both`},
		{"  constraints: [\"gpu_used_memory <= 3 GB\"]", "cost.constraints[0]: gpu_used_memory is not recorded on the embedded server without GPUs"},
		{"  constraints: [\"gpu_used_memory <= 3 ms\"]", `unit "ms" is not valid here (want GB, GiB, MB, MiB or none)`},
	} {
		_, err := Parse([]byte("workload: {model: mlp}\ncost:\n  prices: {node_hour: 1}\n"+tc.src+"\n"), "bad.yaml")
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}

func TestModelConfigDimension(t *testing.T) {
	src := `
workload: {model: mlp}
dimensions:
  clients: [1, 8]
  batch_size: 8
  model_config:
    dynamic_batching:
      max_queue_delay_microseconds: [0, 100, 2000]
      preferred_batch_size: [8]
cost:
  prices: {node_hour: 1}
  surface: [dynamic_batching.max_queue_delay_microseconds, clients]
`
	s, err := Parse([]byte(src), "mc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pts := s.Points()
	if len(pts) != 6 {
		t.Fatalf("%d points, want 3 overrides x 2 clients", len(pts))
	}
	if pts[0].ModelConfig != "dynamic_batching.max_queue_delay_microseconds=0;dynamic_batching.preferred_batch_size=[8]" {
		t.Errorf("point 0 config %q", pts[0].ModelConfig)
	}
	if got := strings.Join(s.Varied(), ","); got != "clients,dynamic_batching.max_queue_delay_microseconds" {
		t.Errorf("varied %q", got)
	}
	xs, err := s.DimensionValues("dynamic_batching.max_queue_delay_microseconds")
	if err != nil || len(xs) != 3 || xs[2] != 2000 {
		t.Errorf("values %v %v", xs, err)
	}
	if d, err := pts[5].Coord("dynamic_batching.max_queue_delay_microseconds"); err != nil || d != 2000 {
		t.Errorf("coord %v %v", d, err)
	}
	if _, ok := s.ModelConfigOverride(pts[3].ModelConfig); !ok {
		t.Error("override not found by name")
	}
	s2, err := Parse(s.YAML(), "again.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, s.YAML())
	}
	if s2.Hash() != s.Hash() {
		t.Errorf("hash changed through YAML():\n%s", s.YAML())
	}
	// The model config is part of what is measured.
	plain, _ := Parse([]byte("workload: {model: mlp}\ndimensions: {clients: [1, 8], batch_size: 8}\ncost: {prices: {node_hour: 1}}\n"), "p.yaml")
	if plain.Hash() == s.Hash() {
		t.Error("hash ignores model_config")
	}
	if plain.Points()[0].Key() != (results.Point{GPUs: 0, Instances: 1, Clients: 1, Rate: 1, BatchSize: 8, Servers: 1}).Key() {
		t.Error("a point without an override changed key")
	}

	for _, tc := range []struct{ src, want string }{
		{"model_config:\n    dynamic_batching: {max_queue_delay_us: [1]}", `bad.yaml:4: dimensions.model_config.dynamic_batching.max_queue_delay_us: not a field of ModelDynamicBatching (did you mean "max_queue_delay_microseconds"?)`},
		{"model_config:\n    - {max_batch_size: 4}\n    - {max_batch_size: x}", `bad.yaml:5: dimensions.model_config[1].max_batch_size: want an integer, got "x"`},
		{"batch_size: 16\n  model_config: {max_batch_size: [4, 32]}", `override max_batch_size=4 allows batches of at most 4, but dimensions.batch_size goes up to 16`},
		{"instances: [1, 2]\n  model_config:\n    instance_group: [{count: [1, 2]}]", `sets instance_group count, which dimensions.instances also sets`},
	} {
		_, err := Parse([]byte("workload: {model: mlp}\ndimensions:\n  "+tc.src+"\n"), "bad.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
}
