// Package table lays out the point records of a results file as rows of
// text, one per trial: the column set that `iaasbench results csv` writes
// in full and `iaasbench results show` in part. It is apart from package
// results, which stays a leaf, because device calls are read through
// package hist.
package table

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/iaasbench/iaasbench/hist"
	"github.com/iaasbench/iaasbench/results"
)

// Column is one column of a row.
type Column struct {
	// Name heads the CSV column: snake case, the unit in the name.
	Name string
	// Short heads the column in the text table; "" where the text table
	// leaves it out.
	Short string
}

// Columns is the column set, in order. Figures are the trial's: its point
// coordinates, trial and status; throughput (goodput) in inferences per
// second; the load offered and the requests refused for overload, per
// second, and those as a percentage of the offered;
// latency percentiles and maximum in ms; the servers' mean queue and
// compute time per request in µs; mean GPU and host CPU utilisation in
// percent; the data rate (seconds of data per second, stream workloads);
// where the figures came from (measured, simulated); why a trial failed;
// and the emulated GPUs' own call durations in µs (embedded target;
// empty elsewhere), which show how far the emulation strayed from its
// profile; then the GPU memory in use (MB, Model Analyzer's
// gpu_used_memory) and where it came from (nvml, triton, device-profile),
// and the point's model-config override. Absent figures are 0, except the
// device calls, the memory and the override, which are empty.
func Columns() []Column {
	return []Column{
		{"gpus", "gpus"}, {"instances", "inst"}, {"clients", "clients"}, {"rate", "rate"},
		{"batch_size", "batch"}, {"servers", "servers"}, {"trial", "trial"}, {"status", "status"},
		{"throughput_ips", "inf/s"}, {"offered_rps", ""}, {"rejected_rps", ""}, {"rejection_pct", "rej %"},
		{"p50_ms", "p50 ms"}, {"p90_ms", ""}, {"p99_ms", "p99 ms"}, {"max_ms", ""},
		{"queue_us", ""}, {"compute_infer_us", ""}, {"gpu_util_pct", "gpu %"}, {"cpu_util_pct", "cpu %"},
		{"data_rate", ""}, {"source", ""}, {"reason", "reason"},
		{"device_call_p50_us", ""}, {"device_call_p90_us", ""}, {"device_call_p99_us", ""},
		{"gpu_used_memory_mb", ""}, {"gpu_memory_source", ""}, {"model_config", "model config"},
	}
}

// Row returns r's values in the order of Columns.
func Row(r results.Record) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	p := r.Point
	row := []string{strconv.Itoa(p.GPUs), strconv.Itoa(p.Instances), strconv.Itoa(p.Clients), strconv.FormatFloat(p.Rate, 'g', -1, 64),
		strconv.Itoa(p.BatchSize), strconv.Itoa(p.Servers), strconv.Itoa(r.Trial), string(r.Status)}
	m := r.Measurement
	if m == nil {
		m = &results.Measurement{}
	}
	var q, ci float64
	if m.Server != nil {
		q, ci = m.Server.QueueUS, m.Server.ComputeInferUS
	}
	var gu, cu float64
	if m.Telemetry != nil {
		gu, cu = m.Telemetry.GPUUtilMean, m.Telemetry.CPUUtilMean
	}
	row = append(row, f(m.ThroughputIPS), f(m.OfferedRPS), f(m.RejectedRPS), f(100*m.RejectionRate), f(m.Latency.P50US/1e3), f(m.Latency.P90US/1e3), f(m.Latency.P99US/1e3), f(m.Latency.MaxUS/1e3),
		f(q), f(ci), f(gu), f(cu), f(m.DataRate), string(r.Source), r.Reason)
	dc := []string{"", "", ""}
	if m.DeviceCalls != nil {
		if h, err := hist.FromResults(*m.DeviceCalls); err == nil && h.Count() > 0 {
			for i, q := range []float64{0.5, 0.9, 0.99} {
				dc[i] = f(float64(h.Quantile(q)) / 1e3)
			}
		}
	}
	row = append(row, dc...)
	var mem, src string
	if t := m.Telemetry; t != nil && t.GPUMemorySource != "" {
		mem, src = f(t.GPUUsedMemoryMB), t.GPUMemorySource
	}
	return append(row, mem, src, p.ModelConfig)
}

// WriteCSV writes a header of every column's Name and a row per record.
func WriteCSV(w io.Writer, recs []results.Record) error {
	cw := csv.NewWriter(w)
	cols := Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	if err := cw.Write(names); err != nil {
		return err
	}
	for _, r := range recs {
		if err := cw.Write(Row(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the columns with a Short name as a right-aligned text
// table, a row per record (the model-config column only when some record
// has an override).
func WriteText(w io.Writer, recs []results.Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	cols := Columns()
	// The model-config column shows only for sweeps that have overrides.
	overrides := false
	for _, r := range recs {
		overrides = overrides || r.Point.ModelConfig != ""
	}
	show := make([]bool, len(cols))
	for i, c := range cols {
		show[i] = c.Short != "" && (c.Name != "model_config" || overrides)
		if show[i] {
			fmt.Fprint(tw, c.Short, "\t")
		}
	}
	fmt.Fprintln(tw)
	for _, r := range recs {
		for i, v := range Row(r) {
			if show[i] {
				fmt.Fprint(tw, v, "\t")
			}
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
