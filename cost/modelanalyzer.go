package cost

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
)

// ModelAnalyzerNames maps Model Analyzer's metric tags (its docs:
// metrics.md, config.md) to the figures that mean the same thing, in the
// same units: perf_throughput in inferences/s, latencies and server times
// in ms, memory in MB, utilisation in %, power in W. Constraints,
// objectives and weights accept either name. Tags with no figure here
// (perf_client_send_recv, perf_client_response_wait, cpu_used_ram,
// cpu_free_ram, the LLM token metrics) are not accepted.
var ModelAnalyzerNames = map[string]string{
	"perf_throughput":            "throughput",
	"perf_latency_avg":           "mean",
	"perf_latency_p90":           "p90",
	"perf_latency_p95":           "p95",
	"perf_latency_p99":           "p99",
	"perf_server_queue":          "server_queue",
	"perf_server_compute_input":  "server_compute_input",
	"perf_server_compute_infer":  "server_compute_infer",
	"perf_server_compute_output": "server_compute_output",
	"gpu_used_memory":            "gpu_used_memory",
	"gpu_free_memory":            "gpu_free_memory",
	"gpu_utilization":            "gpu_util",
	"gpu_power_usage":            "gpu_power",
}

func modelAnalyzerTags() []string {
	var out []string
	for k, v := range ModelAnalyzerNames {
		if k != v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// CanonicalFigure returns the figure a name stands for: one of
// FigureNames as it is, or a Model Analyzer tag translated.
func CanonicalFigure(name string) (string, bool) {
	if _, ok := figureTable[name]; ok {
		return name, true
	}
	if f, ok := ModelAnalyzerNames[name]; ok {
		return f, true
	}
	return name, false
}

// IsFigure reports whether name is a figure or a Model Analyzer tag.
func IsFigure(name string) bool {
	_, ok := CanonicalFigure(name)
	return ok
}

// HigherBetter reports whether a figure (or tag) is better when higher.
func HigherBetter(name string) bool {
	f, _ := CanonicalFigure(name)
	return figureTable[f].higherBetter
}

// ObjectivesWeights turns Model Analyzer's objectives (figure → weight
// > 0) into this package's weights: each weight divided by their sum,
// negated for figures that are better higher. Model Analyzer ranks two
// measurements by the weighted average of their relative gains; a
// weighted cost here scores each point by Σ weight × figure ÷ the median
// of that figure, which ranks by the same weighted relative differences
// measured from the median instead of pairwise.
func ObjectivesWeights(objectives map[string]float64) (map[string]float64, error) {
	var sum float64
	for _, name := range slices.Sorted(maps.Keys(objectives)) {
		w := objectives[name]
		if _, ok := CanonicalFigure(name); !ok {
			return nil, fmt.Errorf("objectives: %w", unknownFigure(name))
		}
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("objectives: %s has weight %v: Model Analyzer's weights are positive numbers (the direction comes from the figure)", name, w)
		}
		sum += w
	}
	out := map[string]float64{}
	for name, w := range objectives {
		f, _ := CanonicalFigure(name)
		if _, dup := out[f]; dup {
			return nil, fmt.Errorf("objectives: %s is named twice (under two names)", f)
		}
		w /= sum
		if figureTable[f].higherBetter {
			w = -w
		}
		out[f] = w
	}
	return out, nil
}

// Canonical returns the spec with every figure under its own name and
// Model Analyzer's Objectives folded into Objective and Weights, as the
// rest of the package reads it. Constraints stay as written (they parse
// under either name). It is an error when a name is unknown or both forms
// of the objective are given.
func (s Spec) Canonical() (Spec, error) { return s.canonical() }

func (s Spec) canonical() (Spec, error) {
	out := s
	if len(s.Objectives) > 0 {
		if s.Objective != "" || len(s.Weights) > 0 {
			return Spec{}, errors.New("give objectives (Model Analyzer's form) or objective and weights, not both")
		}
		w, err := ObjectivesWeights(s.Objectives)
		if err != nil {
			return Spec{}, err
		}
		out.Objectives = nil
		if len(w) == 1 {
			for f := range w {
				out.Objective = f
			}
		} else {
			out.Objective, out.Weights = "weighted", w
		}
		return out, nil
	}
	if s.Objective != "" && s.Objective != "weighted" {
		f, ok := CanonicalFigure(s.Objective)
		if !ok {
			return Spec{}, fmt.Errorf("objective: %w, or \"weighted\"", unknownFigure(s.Objective))
		}
		out.Objective = f
	}
	if len(s.Weights) > 0 {
		out.Weights = map[string]float64{}
		for name, w := range s.Weights {
			f, ok := CanonicalFigure(name)
			if !ok {
				return Spec{}, fmt.Errorf("weights: %w", unknownFigure(name))
			}
			if _, dup := out.Weights[f]; dup {
				return Spec{}, fmt.Errorf("weights: %s is named twice (under two names)", f)
			}
			out.Weights[f] = w
		}
	}
	return out, nil
}

// ObjectiveName is the canonical objective a spec minimises: a figure,
// "weighted", or DefaultObjective when none is set. Unknown names come
// back as written.
func (s Spec) ObjectiveName() string {
	c, err := s.canonical()
	if err != nil {
		return s.Objective
	}
	if c.Objective == "" {
		return DefaultObjective
	}
	return c.Objective
}
