package maconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iaasbench/iaasbench/scenarios"
)

func convert(t *testing.T, file string, opts Options) (*Result, *scenarios.Scenario) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(data, file, opts)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	s, err := scenarios.Parse(res.YAML, file)
	if err != nil {
		t.Fatalf("%s: converted scenario: %v\n%s", file, err, res.YAML)
	}
	return res, s
}

func skipped(res *Result, field string) *Skipped {
	for i := range res.Skipped {
		if res.Skipped[i].Field == field {
			return &res.Skipped[i]
		}
	}
	return nil
}

func values(t *testing.T, s *scenarios.Scenario, dim string) []float64 {
	t.Helper()
	xs, err := s.DimensionValues(dim)
	if err != nil {
		t.Fatal(err)
	}
	return xs
}

func eq(a []float64, b ...float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// config.md's complete manual example: two instance-group alternatives
// (a list of lists), concurrency 2..58 step 8, batch sizes 1,2,3.
func TestManualSearch(t *testing.T) {
	res, s := convert(t, "manual.yaml", Options{Target: "embedded"})
	if got := len(s.Dimensions.ModelConfig.Overrides); got != 2 {
		t.Fatalf("%d overrides, want 2:\n%s", got, res.YAML)
	}
	if !strings.Contains(s.Dimensions.ModelConfig.Overrides[1].Name, "instance_group.kind=KIND_CPU") {
		t.Errorf("override 1: %s", s.Dimensions.ModelConfig.Overrides[1].Name)
	}
	if xs := values(t, s, "clients"); !eq(xs, 2, 10, 18, 26, 34, 42, 50, 58) {
		t.Errorf("clients %v", xs)
	}
	if xs := values(t, s, "batch_size"); !eq(xs, 1, 2, 3) {
		t.Errorf("batch sizes %v", xs)
	}
	for _, f := range []string{"profile_models.model_1.perf_analyzer_flags.percentile", "model_repository", "triton_launch_mode"} {
		if f == "triton_launch_mode" {
			continue // not in the file: nothing to say
		}
		if skipped(res, f) == nil {
			t.Errorf("%s not listed as skipped: %v", f, res.Skipped)
		}
	}
	if sk := skipped(res, "profile_models.model_1.perf_analyzer_flags.percentile"); sk != nil && sk.Line != 9 {
		t.Errorf("percentile skipped at line %d, want 9", sk.Line)
	}
	c, err := s.Cost.Canonical()
	if err != nil || c.Objective != "throughput" {
		t.Errorf("objective %q %v: want Model Analyzer's default perf_throughput", c.Objective, err)
	}
}

// The docs' example as printed asks for batch 3 of a model whose
// max_batch_size is 2: the converted scenario says so.
func TestDocsExampleInconsistency(t *testing.T) {
	data, _ := os.ReadFile("testdata/docs-complete.yaml")
	_, err := Convert(data, "docs-complete.yaml", Options{Target: "embedded"})
	if err == nil || !strings.Contains(err.Error(), "allows batches of at most 2, but dimensions.batch_size goes up to 3") {
		t.Fatalf("got %v", err)
	}
}

// config_search.md's automatic brute search: instance counts, doubling
// max_batch_size and concurrency, dynamic batching on.
func TestAutomaticSearch(t *testing.T) {
	res, s := convert(t, "automatic.yaml", Options{Target: "embedded"})
	if xs := values(t, s, "instances"); !eq(xs, 1, 2, 3) {
		t.Errorf("instances %v", xs)
	}
	if xs := values(t, s, "clients"); !eq(xs, 8, 16, 32, 64, 128, 256) {
		t.Errorf("clients %v", xs)
	}
	if xs := values(t, s, "max_batch_size"); !eq(xs, 16, 32, 64, 128) {
		t.Errorf("max_batch_size %v\n%s", xs, res.YAML)
	}
	if !strings.Contains(s.Dimensions.ModelConfig.Overrides[0].Name, "dynamic_batching={}") {
		t.Errorf("dynamic batching not enabled: %s", s.Dimensions.ModelConfig.Overrides[0].Name)
	}
}

// Constraints and objectives: the model's replace the global ones (as
// in Model Analyzer), shorthands add, remote mode maps its endpoints,
// perf_analyzer flags map where a measure setting exists.
func TestConstraintsObjectivesRemote(t *testing.T) {
	res, s := convert(t, "constraints.yaml", Options{Model: "model_1"})
	want := []string{"gpu_used_memory <= 200", "perf_latency_p99 <= 50", "perf_latency_p99 <= 150"}
	if strings.Join(s.Cost.Constraints, "|") != strings.Join(want, "|") {
		t.Errorf("constraints %q, want %q", s.Cost.Constraints, want)
	}
	if s.Cost.Objectives["perf_latency_p99"] != 2 || s.Cost.Objectives["perf_throughput"] != 3 {
		t.Errorf("objectives %v", s.Cost.Objectives)
	}
	if s.Target.Kind != "remote" || s.Target.URLs[0] != "triton.example:8001" || s.Target.MetricsURLs[0] != "http://triton.example:8002/metrics" {
		t.Errorf("target %+v", s.Target)
	}
	if s.Measure.Window.D().Milliseconds() != 500 || s.Measure.StabilityTolerance != 0.05 {
		t.Errorf("measure %+v", s.Measure)
	}
	for _, f := range []string{"perf_analyzer_flags.shape", "checkpoint_directory", "profile_models.model_2", "model_repository"} {
		if skipped(res, f) == nil {
			t.Errorf("%s not listed as skipped: %v", f, res.Skipped)
		}
	}
	// Two models and no choice: an error naming them.
	data, _ := os.ReadFile("testdata/constraints.yaml")
	if _, err := Convert(data, "constraints.yaml", Options{}); err == nil || !strings.Contains(err.Error(), "model_1, model_2") {
		t.Errorf("no --model: %v", err)
	}
}

// The MLP example converts to a sweep over the batcher's delay and
// clients on the embedded server's emulated GPU.
func TestMLPExample(t *testing.T) {
	_, s := convert(t, "mlp.yaml", Options{Target: "embedded", EmulatedGPUProfile: "h200-mlp"})
	if got := strings.Join(s.Varied(), ","); got != "clients,dynamic_batching.max_queue_delay_microseconds" {
		t.Errorf("varied %s", got)
	}
	if len(s.Points()) != 9 || s.Server.EmulatedGPUProfile != "h200-mlp" {
		t.Errorf("%d points, profile %q", len(s.Points()), s.Server.EmulatedGPUProfile)
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"profile_models:\n  m:\n    model_config_parameters:\n      dynamic_batching:\n        max_queue_delay: [1]\n", `x.yaml:5: profile_models.m.model_config_parameters.dynamic_batching.max_queue_delay: not a field of ModelDynamicBatching`},
		{"profile_models:\n  m:\n    parameters:\n      concurrency: {begin: 1}\n", `x.yaml:4: profile_models.m.parameters.concurrency: a range has start, stop and step, not "begin"`},
		{"model_repository: r\n", "no profile_models"},
	} {
		_, err := Convert([]byte(tc.src), "x.yaml", Options{Target: "embedded"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.src, err, tc.want)
		}
	}
}
