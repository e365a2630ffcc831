// Package cost turns measured latency, throughput and expense into the
// talk's cost surface: an expense model from prices, a cost function from
// constraints and objectives, fitted surfaces over the swept dimensions,
// and the chosen operating point.
package cost

// Prices is the expense model of a deployment. The defaults are editable
// example prices, not quotes.
type Prices struct {
	// GPUHour is USD per GPU-hour by GPU type (e.g. "T4", "A100", "H200",
	// "emulated"); the key "default" applies to any other type.
	GPUHour map[string]float64 `yaml:"gpu_hour" json:"gpu_hour,omitempty"`
	// GPUType names the key of GPUHour that the deployment's GPUs use.
	GPUType string `yaml:"gpu_type" json:"gpu_type,omitempty"`
	// NodeHour is USD per server node-hour (vCPUs, memory, the host).
	NodeHour float64 `yaml:"node_hour" json:"node_hour,omitempty"`
	// PerMillionRequests is an optional charge per million requests.
	PerMillionRequests float64 `yaml:"per_million_requests" json:"per_million_requests,omitempty"`
	// EgressPerGB is an optional charge per GB of response data.
	EgressPerGB float64 `yaml:"egress_per_gb" json:"egress_per_gb,omitempty"`
	// EgressBytesPerInference is the response size of one inference, used
	// with EgressPerGB: results do not record payload sizes.
	EgressBytesPerInference float64 `yaml:"egress_bytes_per_inference" json:"egress_bytes_per_inference,omitempty"`
}

// Spec is the user's cost function: hard constraints plus what to minimise.
type Spec struct {
	Prices Prices `yaml:"prices" json:"prices"`
	// Constraints are expressions such as "p99 <= 50ms",
	// "throughput >= 20000/s", "data_rate >= 1", "gpu_util >= 50",
	// "perf_latency_p99 <= 100" (Model Analyzer's names: see
	// ModelAnalyzerNames).
	Constraints []string `yaml:"constraints" json:"constraints,omitempty"`
	// Objective names the figure to minimise ("usd_per_hour",
	// "usd_per_million", "p99", ...) or "weighted" to use Weights.
	Objective string `yaml:"objective" json:"objective,omitempty"`
	// Weights of a weighted cost: figure name → weight (a negative weight
	// rewards a figure, e.g. throughput).
	Weights map[string]float64 `yaml:"weights" json:"weights,omitempty"`
	// Objectives is Model Analyzer's form of the objective: figure →
	// weight, every weight > 0, the direction of each figure implied
	// (throughput is maximised, latency minimised). One figure is that
	// objective; several make a weighted cost (see ObjectivesWeights). Give
	// Objectives or Objective/Weights, not both.
	Objectives map[string]float64 `yaml:"objectives" json:"objectives,omitempty"`
	// Surface names the two swept dimensions for the cost-surface figure;
	// empty chooses the two varied most.
	Surface []string `yaml:"surface" json:"surface,omitempty"`
}
