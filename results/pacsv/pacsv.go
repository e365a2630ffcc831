// Package pacsv writes measurements as perf_analyzer's -f CSV report:
// the same columns in the same order and units (whole microseconds,
// truncated), one row per measured load, sorted by throughput as
// perf_analyzer sorts them, with its --verbose-csv columns on request. A
// spreadsheet or script made for perf_analyzer's file reads this one.
package pacsv

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
	"github.com/iaasbench/iaasbench/workload"
)

// Options choose the report's columns.
type Options struct {
	// RequestRate names the first column "Request Rate" (open loop, a
	// --request-rate-range) instead of "Concurrency".
	RequestRate bool
	// Percentile adds a "pN latency" column among p50, p90, p95 and p99
	// (perf_analyzer's --percentile); 0 adds none.
	Percentile int
	// Verbose adds perf_analyzer's --verbose-csv columns: "Avg latency"
	// (without a Percentile), "request/response" and "response wait".
	Verbose bool
	// Metrics adds, to the Verbose columns, perf_analyzer's GPU columns
	// of --collect-metrics: per GPU (by UUID) the mean utilization (0..1)
	// and power (W), the most memory used and the total memory (bytes),
	// written "uuid:value;" for each GPU as perf_analyzer writes them.
	Metrics bool
}

// Row is one measured load: the first column's value and the measurement.
type Row struct {
	Load float64
	M    *results.Measurement
}

// percentiles are the latency columns, in order: perf_analyzer always
// reports p50, p90, p95 and p99, and --percentile's N among them.
func (o Options) percentiles() []int {
	ps := []int{50, 90, 95, 99}
	if o.Percentile > 0 && o.Percentile < 100 {
		found := false
		for _, p := range ps {
			found = found || p == o.Percentile
		}
		if !found {
			ps = append(ps, o.Percentile)
			sort.Ints(ps)
		}
	}
	return ps
}

// Header is the CSV's first line.
func Header(o Options) []string {
	h := []string{"Concurrency"}
	if o.RequestRate {
		h[0] = "Request Rate"
	}
	h = append(h, "Inferences/Second", "Client Send", "Network+Server Send/Recv", "Server Queue",
		"Server Compute Input", "Server Compute Infer", "Server Compute Output", "Client Recv")
	for _, p := range o.percentiles() {
		h = append(h, fmt.Sprintf("p%d latency", p))
	}
	if o.Verbose {
		if o.Percentile == 0 {
			h = append(h, "Avg latency")
		}
		h = append(h, "request/response", "response wait")
		if o.Metrics {
			h = append(h, "Avg GPU Utilization", "Avg GPU Power Usage", "Max GPU Memory Usage", "Total GPU Memory")
		}
	}
	return h
}

// us is a time in perf_analyzer's unit: whole microseconds, truncated
// (it divides nanoseconds by 1000 in integers).
func us(v float64) int64 {
	if v <= 0 || math.IsNaN(v) {
		return 0
	}
	return int64(v)
}

// number prints a floating-point figure as perf_analyzer's C++ stream
// does by default: six significant digits, no trailing zeros.
func number(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

// Fields is one row's values, in Header's order.
func Fields(r Row, o Options) []string {
	m := r.M
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	load := number(r.Load)
	if !o.RequestRate {
		load = i(int64(math.Round(r.Load)))
	}
	var send, recv int64
	if m.Client != nil {
		send, recv = us(m.Client.SendUS), us(m.Client.RecvUS)
	}
	var queue, in, infer, out int64
	if s := m.Server; s != nil {
		queue, in, infer, out = us(s.QueueUS), us(s.ComputeInputUS), us(s.ComputeInferUS), us(s.ComputeOutputUS)
	}
	mean := us(m.Latency.MeanUS)
	// What the client waited for, less what the server accounts for: the
	// network and the server's own overhead. perf_analyzer caps it at 0
	// since it subtracts figures measured on two machines.
	network := max(0, mean-send-recv-(queue+in+infer+out))
	f := []string{load, number(m.ThroughputIPS), i(send), i(network), i(queue), i(in), i(infer), i(out), i(recv)}
	for _, p := range o.percentiles() {
		f = append(f, i(us(LatencyAt(m, p))))
	}
	if o.Verbose {
		if o.Percentile == 0 {
			f = append(f, i(mean))
		}
		f = append(f, i(send+recv), i(max(0, mean-send-recv)))
		if o.Metrics {
			f = append(f, gpuColumns(m)...)
		}
	}
	return f
}

// gpuColumns are the four --collect-metrics columns. perf_analyzer reads
// them from the server's metrics (Triton's nv_gpu_* gauges, per
// gpu_uuid), averaging utilization and power over the measurement and
// taking the most memory used; so does this, from the Prometheus series
// the measurement scraped, else from NVML's series of the machine that
// ran the load. A GPU-less measurement leaves the columns empty, as
// perf_analyzer does when the server reports no GPU.
func gpuColumns(m *results.Measurement) []string {
	type metric struct {
		prom, nvml string
		scale      float64 // NVML's unit to perf_analyzer's
		max        bool    // the most, not the mean
		integer    bool
	}
	metrics := []metric{
		{"nv_gpu_utilization", "gpu_util_pct", 0.01, false, false},
		{"nv_gpu_power_usage", "gpu_power_w", 1, false, false},
		{"nv_gpu_memory_used_bytes", "gpu_mem_used_mib", 1 << 20, true, true},
		{"nv_gpu_memory_total_bytes", "gpu_mem_total_mib", 1 << 20, true, true},
	}
	var series []results.Series
	if m.Telemetry != nil {
		series = m.Telemetry.Series
	}
	out := make([]string, len(metrics))
	for k, mt := range metrics {
		perGPU := map[string]float64{}
		collect := func(name, idLabel string, scale float64) {
			for _, s := range series {
				if s.Name != name || len(s.V) == 0 {
					continue
				}
				id := s.Labels[idLabel]
				if id == "" {
					id = s.Labels["gpu"]
				}
				v := 0.0
				for _, x := range s.V {
					if mt.max {
						v = math.Max(v, x)
					} else {
						v += x / float64(len(s.V))
					}
				}
				perGPU[id] = v * scale
			}
		}
		collect(mt.prom, "gpu_uuid", 1)
		if len(perGPU) == 0 {
			collect(mt.nvml, "uuid", mt.scale)
		}
		ids := make([]string, 0, len(perGPU))
		for id := range perGPU {
			ids = append(ids, id)
		}
		sort.Strings(ids) // perf_analyzer's std::map is ordered by UUID
		var b strings.Builder
		for _, id := range ids {
			v := perGPU[id]
			if mt.integer {
				fmt.Fprintf(&b, "%s:%d;", id, uint64(math.Round(v)))
			} else {
				fmt.Fprintf(&b, "%s:%s;", id, number(v))
			}
		}
		out[k] = b.String()
	}
	return out
}

// LatencyAt is the latency at percentile p.
func LatencyAt(m *results.Measurement, p int) float64 {
	switch p {
	case 50:
		return m.Latency.P50US
	case 90:
		return m.Latency.P90US
	case 95:
		return m.Latency.P95US
	case 99:
		return m.Latency.P99US
	}
	if m.Latency.Percentile == p {
		return m.Latency.PercentileUS
	}
	if m.Histogram != nil {
		if h, err := hist.FromResults(*m.Histogram); err == nil {
			return float64(h.Quantile(float64(p)/100)) / 1e3
		}
	}
	return 0
}

// Write writes the header and the rows in increasing order of
// throughput, as perf_analyzer does (ties keep their order).
func Write(w io.Writer, rows []Row, o Options) error {
	sorted := append([]Row(nil), rows...)
	sort.SliceStable(sorted, func(a, b int) bool { return sorted[a].M.ThroughputIPS < sorted[b].M.ThroughputIPS })
	cw := csv.NewWriter(w)
	if err := cw.Write(Header(o)); err != nil {
		return err
	}
	for _, r := range sorted {
		if err := cw.Write(Fields(r, o)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// LoadOf is a measurement's first column: the requests kept in flight in
// all (closed loop) or the scheduled request rate in all (open loop).
// Files written before the measurement recorded its load take it from
// the sweep's point (clients per server × servers × the rate dimension,
// which is concurrency per client in a plain closed loop).
func LoadOf(m *results.Measurement, p results.Point) (load float64, requestRate bool) {
	requestRate = m.Mode == workload.ModeOpen
	switch {
	case requestRate && m.RequestRate > 0:
		return m.RequestRate, true
	case !requestRate && m.Clients > 0:
		return float64(m.Clients * max(m.Concurrency, 1)), false
	}
	n := float64(max(p.Clients, 1) * max(p.Servers, 1))
	if m.Sequence && !requestRate {
		return n, false // one request in flight per sequence
	}
	return n * p.Rate, requestRate
}

// FromRecords are the rows of a results file's ok points, in the file's
// order; a file that mixes closed and open loop is refused, since the
// first column cannot mean both.
func FromRecords(recs []results.Record) ([]Row, Options, error) {
	var rows []Row
	var o Options
	modes := map[bool]bool{}
	for _, r := range recs {
		if r.Kind == results.KindHeader || r.Status != results.StatusOK || r.Measurement == nil {
			continue
		}
		load, rr := LoadOf(r.Measurement, r.Point)
		modes[rr] = true
		o.RequestRate = rr
		if p := r.Measurement.Latency.Percentile; p > 0 {
			o.Percentile = p
		}
		rows = append(rows, Row{Load: load, M: r.Measurement})
	}
	if len(modes) > 1 {
		return nil, o, fmt.Errorf("perf_analyzer CSV: the file mixes closed-loop (Concurrency) and open-loop (Request Rate) points; one CSV has one kind")
	}
	if len(rows) == 0 {
		return nil, o, fmt.Errorf("perf_analyzer CSV: no ok point to write")
	}
	return rows, o, nil
}
