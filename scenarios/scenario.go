// Package scenarios reads the YAML files that say what iaasbench sweeps:
// which model to serve where, which workload drives it, which dimensions
// vary over which values, how each point is measured and searched, what
// the deployment costs and which regressions fail a gate. Every error names
// the file, line and field; built-in scenarios are embedded.
package scenarios

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iaasbench/iaasbench/cost"
	"github.com/iaasbench/iaasbench/k8s/spec"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// Scenario is one sweep as written in a scenario file. Parse fills every
// default, so a parsed Scenario is complete.
type Scenario struct {
	Name        string          `yaml:"name" json:"name"`
	Description string          `yaml:"description,omitempty" json:"description,omitempty"`
	Target      Target          `yaml:"target" json:"target"`
	Workload    Workload        `yaml:"workload" json:"workload"`
	Dimensions  Dimensions      `yaml:"dimensions" json:"dimensions"`
	Server      ServerSettings  `yaml:"server,omitempty" json:"server"`
	Measure     MeasureSettings `yaml:"measure" json:"measure"`
	Search      Search          `yaml:"search" json:"search"`
	Cost        cost.Spec       `yaml:"cost" json:"cost"`
	Gate        Gate            `yaml:"gate" json:"gate"`
	// Agents is the number K of local load agents; 0 drives the load
	// in-process.
	Agents int `yaml:"agents,omitempty" json:"agents,omitempty"`

	file  string         // where it was read from, for problems
	lines map[string]int // field path → line, for problems
}

// Target kinds.
const (
	TargetEmbedded   = "embedded"   // the in-process Triton-compatible server
	TargetRemote     = "remote"     // running Triton servers at URLs
	TargetLocal      = "local"      // a tritonserver process started here
	TargetKubernetes = "kubernetes" // a deployment iaasbench scales
	TargetSimulated  = "simulated"  // no server: figures from a model of one
)

// Target says which server(s) serve the model.
type Target struct {
	Kind string `yaml:"kind" json:"kind"`
	// URLs are the servers' addresses (remote): host:port or grpc:// for
	// gRPC, grpcs:// over TLS, http:// or https:// for KServe v2 REST,
	// with an optional path prefix for HTTP behind an ingress route.
	URLs []string `yaml:"urls,omitempty" json:"urls,omitempty"`
	// MetricsURLs are the servers' Prometheus endpoints (remote), in the
	// order of URLs, e.g. http://host:8002/metrics: GPU utilisation and
	// memory come from there (Triton's nv_gpu_* gauges).
	MetricsURLs []string `yaml:"metrics_urls,omitempty" json:"metrics_urls,omitempty"`
	// Headers are sent with every call to the servers, as gRPC metadata
	// or HTTP headers (e.g. authorization: Bearer ${TOKEN}). Write
	// secrets as ${VAR}: the value is read from the environment when the
	// sweep connects. Results record what is written, with every value
	// that is not only ${VAR} references replaced by <redacted>.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// TLS says how to check the servers of grpcs:// and https:// URLs.
	TLS TLS `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Repo is the model repository directory (local, embedded); empty
	// means the built-in models.
	Repo string `yaml:"repo,omitempty" json:"repo,omitempty"`
	// Tritonserver is the path of the tritonserver binary (local); empty
	// means "tritonserver" on PATH.
	Tritonserver string `yaml:"tritonserver,omitempty" json:"tritonserver,omitempty"`
	// Kubernetes says where and how a kubernetes target runs its servers.
	Kubernetes spec.Config `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`
}

// Workload is the load that drives the model.
type Workload struct {
	Model   string `yaml:"model" json:"model"`
	Mode    string `yaml:"mode" json:"mode"`
	RPC     string `yaml:"rpc" json:"rpc"`
	Arrival string `yaml:"arrival,omitempty" json:"arrival,omitempty"` // open loop only; Parse sets constant there
	// Sequence makes each client a stateful sequence (one data stream with
	// its own snapshotter state on the server).
	Sequence bool   `yaml:"sequence,omitempty" json:"sequence,omitempty"`
	Stream   Stream `yaml:"stream,omitempty" json:"stream"`
	// DataSeconds is a fixed amount of data split over servers×clients
	// (offline); 0 means the measurement is time-based.
	DataSeconds      float64 `yaml:"data_seconds,omitempty" json:"data_seconds,omitempty"`
	SharedConnection bool    `yaml:"shared_connection,omitempty" json:"shared_connection,omitempty"`
	// Protocol is how the load reaches the servers an embedded or local
	// target starts: grpc (the default when empty) or http (KServe v2
	// REST). Remote URLs say it with their scheme; given with them, it
	// must agree.
	Protocol string `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	// HTTPEncoding is how tensors travel over HTTP: binary (Triton's
	// binary tensor extension, the default when empty) or json.
	HTTPEncoding string `yaml:"http_encoding,omitempty" json:"http_encoding,omitempty"`
}

// Stream describes the time series a stream workload feeds: each request
// carries SampleRateHz/rate new samples of Channels channels into a
// KernelS-second snapshot.
type Stream struct {
	SampleRateHz int     `yaml:"sample_rate_hz" json:"sample_rate_hz"`
	KernelS      float64 `yaml:"kernel_s" json:"kernel_s"`
	Channels     int     `yaml:"channels" json:"channels"`
}

// streaming reports whether the workload feeds a time series, so that
// its Stream settings matter.
func (w Workload) streaming() bool {
	return w.Sequence || w.RPC == workload.RPCStream || w.Arrival == workload.ArrivalFrames || w.DataSeconds > 0
}

// SamplesPerRequest is the number of new samples per channel one request
// carries at inference sampling rate r.
func (s Stream) SamplesPerRequest(r float64) int {
	return int(math.Round(float64(s.SampleRateHz) / r))
}

// Dimensions are the swept coordinates. Unset ones take one default value:
// gpus 0 (no GPU), instances 1, clients 1, rate 1, batch_size 1, servers 1.
type Dimensions struct {
	GPUs      Values `yaml:"gpus" json:"gpus"`
	Instances Values `yaml:"instances" json:"instances"`
	Clients   Values `yaml:"clients" json:"clients"`
	Rate      Values `yaml:"rate" json:"rate"` // inference sampling rate (stream/open) or concurrency per client (closed): see Workload.ClientLoad
	BatchSize Values `yaml:"batch_size" json:"batch_size"`
	Servers   Values `yaml:"servers" json:"servers"`
	// ModelConfig sweeps partial model configurations (see ModelConfigs).
	ModelConfig ModelConfigs `yaml:"model_config,omitempty" json:"model_config,omitempty"`
}

// ServerSettings configure the served model (Triton's config.pbtxt).
type ServerSettings struct {
	DynamicBatching    bool  `yaml:"dynamic_batching,omitempty" json:"dynamic_batching,omitempty"`
	MaxQueueDelayUS    int   `yaml:"max_queue_delay_us,omitempty" json:"max_queue_delay_us,omitempty"`
	PreferredBatchSize []int `yaml:"preferred_batch_size,omitempty" json:"preferred_batch_size,omitempty"`
	MaxQueueSize       int   `yaml:"max_queue_size,omitempty" json:"max_queue_size,omitempty"`
	// EmulatedGPUProfile is a device profile file, or a built-in name such
	// as "h200-mlp", for the embedded server's emulated GPUs.
	EmulatedGPUProfile string     `yaml:"emulated_gpu_profile,omitempty" json:"emulated_gpu_profile,omitempty"`
	Calibrated         Calibrated `yaml:"calibrated,omitempty" json:"calibrated,omitempty"`
}

// Calibrated sets the service time of the built-in "calibrated" model:
// BaseUS + PerItemUS × batch, spread by ±Jitter (a fraction, 0.05 = 5%).
type Calibrated struct {
	BaseUS    float64 `yaml:"base_us,omitempty" json:"base_us,omitempty"`
	PerItemUS float64 `yaml:"per_item_us,omitempty" json:"per_item_us,omitempty"`
	Jitter    float64 `yaml:"jitter,omitempty" json:"jitter,omitempty"`
}

// MeasureSettings say how one point is measured: a warm-up, then windows
// until StableWindows consecutive windows agree within StabilityTolerance
// (at most MaxWindows), unless Duration or Requests fixes the amount.
type MeasureSettings struct {
	Warmup             Duration `yaml:"warmup" json:"warmup"`
	Window             Duration `yaml:"window" json:"window"`
	StabilityTolerance float64  `yaml:"stability_tolerance" json:"stability_tolerance"`
	StableWindows      int      `yaml:"stable_windows" json:"stable_windows"`
	MaxWindows         int      `yaml:"max_windows" json:"max_windows"`
	Duration           Duration `yaml:"duration,omitempty" json:"duration,omitempty"` // fixed length; overrides stability
	Requests           int      `yaml:"requests,omitempty" json:"requests,omitempty"` // fixed request count
	Trials             int      `yaml:"trials" json:"trials"`
	// Timeout bounds one trial of one point; 0 derives it (PointTimeout).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// PointTimeout is Timeout, or when zero three times the longest a trial
// should take (at least 30s; at least 2m for a fixed request count).
func (m MeasureSettings) PointTimeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout.D()
	}
	long := m.Warmup.D() + time.Duration(m.MaxWindows)*m.Window.D()
	if m.Duration > 0 {
		long = m.Warmup.D() + m.Duration.D()
	}
	t := max(3*long, 30*time.Second)
	if m.Requests > 0 {
		t = max(t, 2*time.Minute)
	}
	return t
}

// Search strategies.
const (
	StrategyGrid     = "grid"     // every point of the grid
	StrategyAdaptive = "adaptive" // points chosen where the cost surface is least known
)

// Search says how the sweep picks points and when it stops.
type Search struct {
	Strategy       string   `yaml:"strategy" json:"strategy"`
	BudgetPoints   int      `yaml:"budget_points,omitempty" json:"budget_points,omitempty"`
	BudgetTime     Duration `yaml:"budget_time,omitempty" json:"budget_time,omitempty"`
	MinImprovement float64  `yaml:"min_improvement,omitempty" json:"min_improvement,omitempty"`
}

// Gate sets the regressions that fail a comparison against a baseline.
type Gate struct {
	// Thresholds map a figure to its allowed change, e.g. "throughput":
	// "-5%", "p99": "+10%".
	Thresholds map[string]string `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
	// Reference names a reference point or model to normalise by.
	Reference string `yaml:"reference,omitempty" json:"reference,omitempty"`
	MinTrials int    `yaml:"min_trials" json:"min_trials"`
}

// Default returns a scenario with every default filled and no model.
func Default() *Scenario {
	return &Scenario{
		Target: Target{Kind: TargetEmbedded},
		Workload: Workload{
			Mode: workload.ModeClosed,
			RPC:  workload.RPCUnary,
			Stream: Stream{
				SampleRateHz: 4096,
				KernelS:      1,
				Channels:     21,
			},
		},
		Dimensions: Dimensions{
			GPUs:      ValuesOf(0),
			Instances: ValuesOf(1),
			Clients:   ValuesOf(1),
			Rate:      ValuesOf(1),
			BatchSize: ValuesOf(1),
			Servers:   ValuesOf(1),
		},
		Measure: MeasureSettings{
			Warmup:             Duration(time.Second),
			Window:             Duration(time.Second),
			StabilityTolerance: 0.1,
			StableWindows:      3,
			MaxWindows:         10,
			Trials:             1,
		},
		Search: Search{Strategy: StrategyGrid},
		Gate:   Gate{MinTrials: 5},
	}
}

// maxFileSize bounds what Parse reads; scenario files are small.
const maxFileSize = 1 << 20

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a scenario; name (usually the file's path)
// is used in errors and, without a name: key, as the scenario's name.
// The error is Problems, listing every problem found.
func Parse(data []byte, name string) (*Scenario, error) {
	s, err := decodeScenario(data, name)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeScenario decodes a scenario and fills its defaults, unvalidated.
func decodeScenario(data []byte, name string) (*Scenario, error) {
	if len(data) > maxFileSize {
		return nil, Problems{{File: name, Msg: fmt.Sprintf("file is %d bytes, more than %d: not a scenario", len(data), maxFileSize)}}
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: name, Msg: "empty file: a scenario needs at least workload.model"}}
		}
		return nil, Problems{syntaxProblem(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Problems{{File: name, Line: extra.Line, Msg: "more than one YAML document (---): put one scenario per file"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Problems{syntaxProblem(name, err)}
	}
	s := Default()
	d := &decoder{file: name, lines: map[string]int{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, Problems{{File: name, Msg: "empty file: a scenario needs at least workload.model"}}
		}
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.ShortTag() == "!!null" {
		return nil, Problems{{File: name, Msg: "empty file: a scenario needs at least workload.model"}}
	}
	d.decode(doc, reflect.ValueOf(s).Elem(), "")
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	s.file, s.lines = name, d.lines
	if s.Name == "" {
		base := filepath.Base(name)
		s.Name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if s.Workload.Mode == workload.ModeOpen && s.Workload.Arrival == "" {
		s.Workload.Arrival = workload.ArrivalConstant
	}
	return s, nil
}

// values returns the Values of a dimension named as in results.Dimensions.
func (d *Dimensions) values(dim string) *Values {
	switch dim {
	case "gpus":
		return &d.GPUs
	case "instances":
		return &d.Instances
	case "clients":
		return &d.Clients
	case "rate":
		return &d.Rate
	case "batch_size":
		return &d.BatchSize
	case "servers":
		return &d.Servers
	}
	return nil
}

// dimensionSpecs is the table of dimensions: default, whether values must
// be integers, and their bounds.
var dimensionSpecs = []struct {
	name     string
	def      float64
	integer  bool
	min, max float64
}{
	{"gpus", 0, true, 0, 4096},
	{"instances", 1, true, 1, 1 << 16},
	{"clients", 1, true, 1, 1 << 20},
	{"rate", 1, false, math.SmallestNonzeroFloat64, 1e9},
	{"batch_size", 1, true, 1, 1 << 24},
	{"servers", 1, true, 1, 1 << 16},
}

func defaultOf(dim string) float64 {
	for _, sp := range dimensionSpecs {
		if sp.name == dim {
			return sp.def
		}
	}
	return 0
}

// DimensionValues returns the values a dimension (one of
// results.Dimensions) is swept over, its default when unset.
func (s *Scenario) DimensionValues(dim string) ([]float64, error) {
	v := s.Dimensions.values(dim)
	if v == nil {
		if xs := s.configValues(dim); len(xs) > 0 && slices.Contains(results.ConfigDimensions(s.configPoints()), dim) {
			return xs, nil
		}
		return nil, fmt.Errorf("unknown dimension %q (want one of %s)", dim, dimsText(s.dimensionNames()))
	}
	xs, err := v.Expand()
	if err != nil {
		return nil, fmt.Errorf("dimensions.%s: %w", dim, err)
	}
	if len(xs) == 0 {
		return []float64{defaultOf(dim)}, nil
	}
	return xs, nil
}

// axis is DimensionValues for a scenario assumed valid: a bad dimension
// falls back to its default.
func (s *Scenario) axis(dim string) []float64 {
	xs, err := s.DimensionValues(dim)
	if err != nil {
		return []float64{defaultOf(dim)}
	}
	return xs
}

// pointOrder is the nesting of Points, outermost first: changing servers
// or GPUs means redeploying, so they change least often.
var pointOrder = []string{"servers", "gpus", "instances", "model_config", "batch_size", "clients", "rate"}

// Points returns the full grid, the cartesian product of every
// dimension's values, in a deterministic order (servers outermost, then
// gpus, instances, model_config, batch_size, clients, rate innermost).
// It assumes a validated scenario.
func (s *Scenario) Points() []results.Point {
	axes := make([][]float64, len(pointOrder))
	n := 1
	for i, dim := range pointOrder {
		if dim == "model_config" {
			axes[i] = []float64{-1} // no override
			if k := len(s.Dimensions.ModelConfig.Overrides); k > 0 {
				axes[i] = make([]float64, k)
				for j := range axes[i] {
					axes[i][j] = float64(j)
				}
			}
		} else {
			axes[i] = s.axis(dim)
		}
		n *= len(axes[i])
	}
	out := make([]results.Point, 0, n)
	idx := make([]int, len(axes))
	for {
		var p results.Point
		for i, dim := range pointOrder {
			x := axes[i][idx[i]]
			switch dim {
			case "servers":
				p.Servers = int(math.Round(x))
			case "gpus":
				p.GPUs = int(math.Round(x))
			case "instances":
				p.Instances = int(math.Round(x))
			case "batch_size":
				p.BatchSize = int(math.Round(x))
			case "clients":
				p.Clients = int(math.Round(x))
			case "rate":
				p.Rate = x
			case "model_config":
				if x >= 0 {
					p.ModelConfig = s.Dimensions.ModelConfig.Overrides[int(x)].Name
				}
			}
		}
		out = append(out, p)
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(axes[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return out
		}
	}
}

// gridSize is the number of Points without building them.
func (s *Scenario) gridSize() float64 {
	n := float64(max(len(s.Dimensions.ModelConfig.Overrides), 1))
	for _, dim := range results.Dimensions {
		n *= float64(len(s.axis(dim)))
	}
	return n
}

// Varied returns the dimensions with more than one value, in the order of
// results.Dimensions, then the model-config fields swept as numbers
// (ConfigDimensions).
func (s *Scenario) Varied() []string {
	var out []string
	for _, dim := range results.Dimensions {
		if len(s.axis(dim)) > 1 {
			out = append(out, dim)
		}
	}
	return append(out, s.ConfigDimensions()...)
}

// Hash identifies what a sweep measures: the first 12 hex digits of the
// SHA-256 of the canonical JSON of the target, workload, dimensions (as
// expanded values), server, measurement settings and agents. Name,
// description, search, cost and gate are left out on purpose: editing
// prices or thresholds must not orphan measurements already recorded.
func (s *Scenario) Hash() string {
	dims := map[string][]float64{}
	for _, dim := range results.Dimensions {
		dims[dim] = s.axis(dim)
	}
	var configs []string
	for _, o := range s.Dimensions.ModelConfig.Overrides {
		configs = append(configs, o.Name)
	}
	canonical := struct {
		Target      Target               `json:"target"`
		Workload    Workload             `json:"workload"`
		Dimensions  map[string][]float64 `json:"dimensions"`
		ModelConfig []string             `json:"model_config,omitempty"`
		Server      ServerSettings       `json:"server"`
		Measure     MeasureSettings      `json:"measure"`
		Agents      int                  `json:"agents,omitempty"`
	}{s.Target.recorded(), s.Workload, dims, configs, s.Server, s.Measure, s.Agents}
	b, err := json.Marshal(canonical)
	if err != nil {
		// Only non-finite floats set from Go can fail; %#v is still stable.
		b = []byte(fmt.Sprintf("%#v", canonical))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// YAML returns the scenario in canonical form: defaults filled, fields in
// a fixed order, empty fields left out. Parse(YAML()) gives back the same
// scenario, but for header values that are secrets (not only ${VAR}
// references), written as <redacted>; the sweep stores it in the results
// header.
func (s *Scenario) YAML() []byte {
	out := *s
	out.Target = s.Target.recorded()
	if !out.Workload.streaming() && out.Workload.Stream == Default().Workload.Stream {
		out.Workload.Stream = Stream{} // default and unused: Parse restores it
	}
	var n yaml.Node
	if err := n.Encode(&out); err != nil {
		// The types of this package always encode; an error is a bug here.
		panic(fmt.Sprintf("scenarios: encode %s: %v", s.Name, err))
	}
	prune(&n, "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		panic(fmt.Sprintf("scenarios: encode %s: %v", s.Name, err))
	}
	_ = enc.Close()
	return buf.Bytes()
}

// prune drops mapping entries with empty values ("", [], {}) and the zero
// numbers directly in cost.prices (whose fields have no omitempty): all of
// them mean "unset" or "no such charge". It reports whether n is empty.
func prune(n *yaml.Node, path string) bool {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			prune(c, path)
		}
		return false
	case yaml.MappingNode:
		if path == "dimensions.model_config" {
			return false // overrides as written: an empty {} means something
		}
		if n.Style&yaml.FlowStyle != 0 {
			return len(n.Content) == 0 // a range: keep as written
		}
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if prune(v, joinPath(path, k.Value)) {
				continue
			}
			if path == "cost.prices" && v.Kind == yaml.ScalarNode && v.Value == "0" {
				continue
			}
			kept = append(kept, k, v)
		}
		n.Content = kept
		return len(n.Content) == 0
	case yaml.SequenceNode:
		if path == "dimensions.model_config" {
			return false
		}
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Value == "" && (n.ShortTag() == "!!str" || n.ShortTag() == "!!null")
	}
	return false
}
