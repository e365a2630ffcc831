// Package results owns the schema of what iaasbench records: one Record per
// measured (or simulated) point of a sweep, appended to a JSONL file that
// survives crashes. Every other package reads results through these types,
// never the wire.
package results

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SchemaVersion is written into every record so that readers can refuse
// files from a future, incompatible iaasbench.
const SchemaVersion = 1

// Status says whether a point's figures can be trusted.
type Status string

const (
	StatusOK         Status = "ok"
	StatusFailed     Status = "failed"     // nothing usable was measured; Reason says why
	StatusIncomplete Status = "incomplete" // figures cover part of the window only
)

// Source says where a record's figures came from. Simulated and emulated
// figures are always labelled so that no one mistakes them for measurements.
type Source string

const (
	SourceMeasured  Source = "measured"
	SourceSimulated Source = "simulated"
)

// Sides of an interleaved A/B run (Record.Side).
const (
	SideBaseline  = "baseline"
	SideCandidate = "candidate"
)

// Point is one configuration of a sweep: its coordinates along every
// dimension a scenario can vary. Zero means "not varied / default".
type Point struct {
	GPUs      int `json:"gpus"`
	Instances int `json:"instances"` // model instances per GPU (or per server on CPU)
	Clients   int `json:"clients"`
	// Rate is the `rate` dimension: a rate (the open-loop request rate,
	// or a sequence's sampling rate r) or, in a plain closed loop, the
	// requests each client keeps in flight. The workload decides which;
	// scenarios.Workload.ClientLoad decodes it.
	Rate      float64 `json:"rate"`
	BatchSize int     `json:"batch_size"`
	Servers   int     `json:"servers"`
	// ModelConfig names the model-config override the point applied on
	// top of its other coordinates, as "field=value" pairs joined by ";"
	// (e.g. "dynamic_batching.max_queue_delay_microseconds=100"); empty
	// when the scenario sweeps no model-config field. Each field is a
	// dimension of its own (see ConfigDimensions).
	ModelConfig string `json:"model_config,omitempty"`
}

// Dimensions lists the names of Point's coordinates in a fixed order.
var Dimensions = []string{"gpus", "instances", "clients", "rate", "batch_size", "servers"}

// Coord returns the coordinate named by one of Dimensions.
func (p Point) Coord(dim string) (float64, error) {
	switch dim {
	case "gpus":
		return float64(p.GPUs), nil
	case "instances":
		return float64(p.Instances), nil
	case "clients":
		return float64(p.Clients), nil
	case "rate":
		return p.Rate, nil
	case "batch_size":
		return float64(p.BatchSize), nil
	case "servers":
		return float64(p.Servers), nil
	}
	if v, ok := p.ConfigValue(dim); ok {
		x, err := ConfigNumber(v)
		if err != nil {
			return 0, fmt.Errorf("dimension %s of point %s: %w", dim, p.Key(), err)
		}
		return x, nil
	}
	if IsConfigField(dim) {
		return 0, fmt.Errorf("point %s does not set model-config field %s", p.Key(), dim)
	}
	return 0, fmt.Errorf("unknown dimension %q (want one of %s, or a model-config field such as dynamic_batching.max_queue_delay_microseconds)", dim, strings.Join(Dimensions, ", "))
}

// Key is a stable identity of the point, used to match points across runs
// (resume, gate). A point without a model-config override keeps the key
// it had before overrides existed.
func (p Point) Key() string {
	k := fmt.Sprintf("gpus=%d,instances=%d,clients=%d,rate=%s,batch_size=%d,servers=%d",
		p.GPUs, p.Instances, p.Clients, strconv.FormatFloat(p.Rate, 'g', -1, 64), p.BatchSize, p.Servers)
	if p.ModelConfig != "" {
		k += ",model_config=" + p.ModelConfig
	}
	return k
}

// String is Key.
func (p Point) String() string { return p.Key() }

// Kinds of Record.
const (
	KindHeader = "header" // the first line of a sweep: what was run, where
	KindPoint  = "point"  // one trial of one point
)

// Record is one line of a results file.
type Record struct {
	Schema       int       `json:"schema"`
	Kind         string    `json:"kind"` // KindHeader or KindPoint
	SweepID      string    `json:"sweep_id"`
	Scenario     string    `json:"scenario"`
	ScenarioHash string    `json:"scenario_hash"`
	Header       *Header   `json:"header,omitempty"`
	Point        Point     `json:"point"`
	Trial        int       `json:"trial"`   // 0-based repeat of the same point
	Attempt      int       `json:"attempt"` // 1-based try of this trial (failed points are retried)
	Status       Status    `json:"status,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Source       Source    `json:"source,omitempty"`
	Strategy     string    `json:"strategy,omitempty"` // search strategy that chose the point: grid, adaptive
	Order        int       `json:"order"`              // 0-based order in which the sweep measured points
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	Env          *Env      `json:"env,omitempty"`
	// Allocation is what the target really allocated for the point, where
	// it knows (Kubernetes: from the nodes the servers landed on).
	Allocation *Allocation `json:"allocation,omitempty"`
	// Side labels the records of an interleaved A/B run, which measures
	// two configurations alternately into one file: SideBaseline or
	// SideCandidate (each side has its own header and SweepID). Empty in
	// a plain sweep.
	Side string `json:"side,omitempty"`

	Measurement *Measurement `json:"measurement,omitempty"`
}

// Header opens a sweep in a results file: the scenario as written (so
// that cost and report can read prices and constraints later) and the
// environment.
type Header struct {
	ScenarioYAML string `json:"scenario_yaml"`
	Target       string `json:"target"` // embedded, remote, local, kubernetes, simulated
	Env          Env    `json:"env"`
}

// Env describes where a record was produced.
type Env struct {
	Host          string   `json:"host"`
	OS            string   `json:"os"`
	Arch          string   `json:"arch"`
	CPU           string   `json:"cpu"`
	CPUs          int      `json:"cpus"`
	GoVersion     string   `json:"go_version"`
	Version       string   `json:"iaasbench_version"`
	ServerName    string   `json:"server_name,omitempty"`
	ServerVersion string   `json:"server_version,omitempty"`
	GPUs          []string `json:"gpus,omitempty"`
	Driver        string   `json:"driver,omitempty"`
	Emulated      bool     `json:"emulated,omitempty"` // GPUs are emulated devices of the embedded server
}

// Allocation is the hardware a point really ran on.
type Allocation struct {
	GPUProduct   string   `json:"gpu_product,omitempty"` // node label nvidia.com/gpu.product
	InstanceType string   `json:"instance_type,omitempty"`
	GPUs         int      `json:"gpus"`  // GPUs allocated in all
	Nodes        int      `json:"nodes"` // nodes the servers landed on
	NodeNames    []string `json:"node_names,omitempty"`
}

// Measurement is everything measured at one point: what `iaasbench
// measure` prints as JSON.
type Measurement struct {
	Model    string `json:"model"`
	Mode     string `json:"mode"`               // closed or open
	RPC      string `json:"rpc"`                // unary or stream
	Arrival  string `json:"arrival,omitempty"`  // constant, poisson, frames (open loop)
	Sequence bool   `json:"sequence,omitempty"` // clients are stateful sequences
	// Clients and Concurrency are the load's shape: clients in all and
	// the requests each keeps in flight (closed loop) or may have in
	// flight (open loop). RequestRate is the open loop's scheduled
	// request rate over all clients. 0 in files written before they were
	// recorded.
	Clients     int     `json:"clients,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	RequestRate float64 `json:"request_rate,omitempty"`
	// Connection says how the load reached the servers; nil in files
	// written before it was recorded, which were all plaintext gRPC.
	Connection *Connection `json:"connection,omitempty"`
	// InputData says which user data the requests carried (perf_analyzer's
	// --input-data FILE|DIR); nil for generated (random or zero) data.
	InputData *InputData `json:"input_data,omitempty"`

	Start     time.Time `json:"start"`
	DurationS float64   `json:"duration_s"` // measured window (warm-up excluded)

	Requests   int64 `json:"requests"`   // requests that succeeded
	Inferences int64 `json:"inferences"` // successful requests × batch size
	Errors     int64 `json:"errors"`
	// Rejected counts requests the server refused for overload (gRPC
	// UNAVAILABLE or RESOURCE_EXHAUSTED from a server that is up, a
	// queue-full error on a stream, HTTP 503/429): an answer, not a
	// failure of the measurement. Absent (0) in files written before it
	// was recorded, when no request was refused either.
	Rejected int64 `json:"rejected,omitempty"`

	// ThroughputRPS and ThroughputIPS are goodput: successful requests and
	// their inferences per second. Rejected requests are not in them.
	ThroughputRPS float64 `json:"throughput_rps"` // requests per second
	ThroughputIPS float64 `json:"throughput_ips"` // inferences per second
	// OfferedRPS is the load the server was offered: requests answered
	// (succeeded, rejected or failed) per second. Beside ThroughputRPS it
	// shows how much of the load got through. 0 in older files.
	OfferedRPS float64 `json:"offered_rps,omitempty"`
	// RejectedRPS is Rejected per second, and RejectionRate the fraction
	// (0..1) of offered requests that were rejected.
	RejectedRPS   float64 `json:"rejected_rps,omitempty"`
	RejectionRate float64 `json:"rejection_rate,omitempty"`
	// DataRate is seconds of data processed per second of wall time for
	// stream workloads (throughput / r); zero otherwise.
	DataRate float64 `json:"data_rate,omitempty"`

	Latency LatencySummary `json:"latency"`
	// Client is the client's own share of the latency (perf_analyzer's
	// Client Send and Client Recv); nil when the calls did not report it
	// (streams, files written before it was recorded).
	Client    *ClientTimes `json:"client,omitempty"`
	Histogram *Histogram   `json:"histogram,omitempty"`
	Server    *Breakdown   `json:"server,omitempty"`
	Windows   []Window     `json:"windows,omitempty"`
	Stable    bool         `json:"stable"`

	Telemetry *Telemetry `json:"telemetry,omitempty"`
	// DeviceCalls are the durations of the emulated GPUs' calls over the
	// point, warm-up included (embedded target only): what the simulator
	// draws service times from when it validates against this sweep.
	DeviceCalls *Histogram `json:"device_calls,omitempty"`

	Incomplete bool   `json:"incomplete,omitempty"`
	Error      string `json:"error,omitempty"`
}

// InputData names the input data a measurement's requests were made
// from, never the data itself.
type InputData struct {
	Source  string `json:"source"`  // the file's or directory's base name
	Streams int    `json:"streams"` // data streams (client k used stream k mod Streams)
	Entries int    `json:"entries"` // entries over all streams
}

// Connection is how a measurement's load reached the servers.
type Connection struct {
	Protocol string `json:"protocol"`      // grpc or http (KServe v2 REST)
	TLS      bool   `json:"tls,omitempty"` // over TLS (grpcs://, https://)
	// TLSUnverified says the server's certificate was NOT checked
	// (--insecure-skip-verify): the traffic was encrypted, but to a
	// server whose identity is unknown.
	TLSUnverified bool `json:"tls_unverified,omitempty"`
	// Encoding is how tensors travelled over HTTP: binary (Triton's
	// binary tensor extension) or json.
	Encoding string `json:"encoding,omitempty"`
	// Headers are the names of the headers sent with every call. Their
	// values are never recorded.
	Headers []string `json:"headers,omitempty"`
}

// ConnectionOf is m's connection, with the plaintext gRPC of files that
// predate the field.
func ConnectionOf(m *Measurement) Connection {
	if m == nil || m.Connection == nil {
		return Connection{Protocol: "grpc"}
	}
	return *m.Connection
}

// String is e.g. "grpc", "https (binary)", "grpcs, NOT VERIFIED".
func (c Connection) String() string {
	s := c.Protocol
	if c.TLS {
		s += "s"
	}
	if c.Encoding != "" {
		s += " (" + c.Encoding + ")"
	}
	if c.TLSUnverified {
		s += ", TLS NOT VERIFIED"
	}
	return s
}

// LatencySummary holds client-side request latency in microseconds. In
// open loop it counts from the intended send time.
type LatencySummary struct {
	MinUS  float64 `json:"min_us"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P95US  float64 `json:"p95_us"`
	P99US  float64 `json:"p99_us"`
	P999US float64 `json:"p999_us"`
	MaxUS  float64 `json:"max_us"`
	// Percentile is the percentile the measurement was asked to report
	// and judge stability by (perf_analyzer's --percentile), 0 when none;
	// PercentileUS is the latency at it.
	Percentile   int     `json:"percentile,omitempty"`
	PercentileUS float64 `json:"percentile_us,omitempty"`
}

// ClientTimes are the client's mean times per successful request, in
// microseconds: over gRPC marshalling the request (Send) and
// unmarshalling the response (Recv); over HTTP writing the request and
// reading the response after its first byte.
type ClientTimes struct {
	SendUS float64 `json:"send_us"`
	RecvUS float64 `json:"recv_us"`
}

// Histogram is a mergeable latency histogram in its serialised form:
// log-linear buckets as written by package hist.
type Histogram struct {
	SubBucketBits int     `json:"sub_bucket_bits"`
	MinNS         int64   `json:"min_ns"`
	MaxNS         int64   `json:"max_ns"`
	SumNS         float64 `json:"sum_ns"`
	Count         int64   `json:"count"`
	// Buckets are (index, count) pairs of non-empty buckets.
	Buckets [][2]int64 `json:"buckets"`
}

// Breakdown is the server-side time per request over the measured window,
// from ModelStatistics deltas, in microseconds.
type Breakdown struct {
	QueueUS          float64 `json:"queue_us"`
	ComputeInputUS   float64 `json:"compute_input_us"`
	ComputeInferUS   float64 `json:"compute_infer_us"`
	ComputeOutputUS  float64 `json:"compute_output_us"`
	ClientOverheadUS float64 `json:"client_overhead_us"` // client latency minus server time
	InferenceCount   uint64  `json:"inference_count"`
	ExecutionCount   uint64  `json:"execution_count"`
	RequestCount     uint64  `json:"request_count"`
}

// Window is one measurement window.
type Window struct {
	StartS        float64 `json:"start_s"` // since the measurement's start
	DurationS     float64 `json:"duration_s"`
	ThroughputIPS float64 `json:"throughput_ips"` // goodput
	P99US         float64 `json:"p99_us"`
	RejectedRPS   float64 `json:"rejected_rps,omitempty"`
}

// Telemetry holds the time series sampled beside the load and their
// summaries.
type Telemetry struct {
	Series []Series `json:"series,omitempty"`
	// Notes explain missing telemetry, e.g. "NVML unavailable: no NVIDIA driver".
	Notes []string `json:"notes,omitempty"`

	GPUUtilMean float64 `json:"gpu_util_mean_pct"`
	GPUUtilMax  float64 `json:"gpu_util_max_pct"`
	CPUUtilMean float64 `json:"cpu_util_mean_pct"`
	PowerMeanW  float64 `json:"power_mean_w,omitempty"`
	EnergyJ     float64 `json:"energy_j,omitempty"`

	// GPUUsedMemoryMB is Model Analyzer's gpu_used_memory: the most
	// memory in use on each GPU during the measurement, summed over GPUs,
	// in MB (10^6 bytes). GPUTotalMemoryMB is the GPUs' total memory, 0
	// when unknown. GPUMemorySource says where both came from, and is
	// empty when nothing reported memory:
	//   - "nvml": NVML on the machine that ran the load (gpu_mem_used_mib);
	//   - "triton": the server's nv_gpu_memory_used_bytes (Prometheus);
	//   - "device-profile": the embedded server's emulated GPUs, whose
	//     nv_gpu_memory_used_bytes comes from the device profile's memory
	//     figures (labelled emulated="true"), not from a device.
	GPUUsedMemoryMB  float64 `json:"gpu_used_memory_mb,omitempty"`
	GPUTotalMemoryMB float64 `json:"gpu_total_memory_mb,omitempty"`
	GPUMemorySource  string  `json:"gpu_memory_source,omitempty"`
}

// Sources of GPU memory figures (Telemetry.GPUMemorySource).
const (
	MemoryFromNVML          = "nvml"
	MemoryFromTriton        = "triton"
	MemoryFromDeviceProfile = "device-profile"
)

// Series is one sampled time series.
type Series struct {
	Name   string            `json:"name"` // gpu_util_pct, gpu_mem_used_mib, gpu_power_w, gpu_energy_j, cpu_util_pct, nv_gpu_utilization, ...
	Unit   string            `json:"unit"`
	Labels map[string]string `json:"labels,omitempty"` // gpu index/uuid, source (nvml, host, prometheus), emulated
	T      []float64         `json:"t"`                // seconds since the measurement's start
	V      []float64         `json:"v"`
}
